#include "server/core/registry.h"

#include <gtest/gtest.h>

#include "server/objects/list_object.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

constexpr SessionId kAlice = 1;
constexpr SessionId kBob = 2;

Registry::Factory NewList() {
  return []() -> absl::StatusOr<std::unique_ptr<Object>> {
    auto made = ListObject::Create(nullptr, {});
    if (!made.ok()) return made.status();
    return std::unique_ptr<Object>(std::move(*made));
  };
}

uint64_t MakeList(Registry& registry, SessionId session, const std::string& name = "") {
  auto created = registry.Create(session, Kind::kList, name, NewList());
  EXPECT_TRUE(created.ok()) << created.status();
  return created->first;
}

ListObject& ListAt(Registry& registry, uint64_t id) {
  return static_cast<ListObject&>(**registry.Find(id, ""));
}

// The session references the registry counts for id, per object, after
// checking that they equal the sum of the per-session counts of sessions.
int64_t SessionRefsOf(Registry& registry, uint64_t id, std::initializer_list<SessionId> sessions) {
  absl::StatusOr<ObjectSummary> summary = registry.Summarize(id, "");
  EXPECT_TRUE(summary.ok()) << summary.status();
  int64_t summed = 0;
  for (SessionId session : sessions) {
    const absl::flat_hash_map<uint64_t, int64_t> held = registry.SessionRefs(session);
    auto it = held.find(id);
    if (it == held.end()) continue;
    EXPECT_GT(it->second, 0) << "session " << session;
    summed += it->second;
  }
  EXPECT_EQ(summary->session_refs, summed);
  return summary->session_refs;
}

Value RefTo(uint64_t id) {
  ObjectRef ref;
  ref.id = id;
  ref.kind = Kind::kList;
  return Value(ref);
}

TEST(Registry, ReleasedAnonymousObjectIsCollected) {
  Registry registry(0);
  const uint64_t id = MakeList(registry, kAlice);
  EXPECT_EQ(registry.Collect(), 0);
  registry.Release(kAlice, id);
  EXPECT_TRUE(registry.collect_wanted());
  EXPECT_EQ(registry.Collect(), 1);
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_EQ(ErrorKindOf(registry.Find(id, "").status()), ErrorKind::kKeyError);
}

TEST(Registry, ObjectLivesWhileAnySessionHoldsIt) {
  Registry registry(0);
  const uint64_t id = MakeList(registry, kAlice);
  ASSERT_TRUE(registry.Retain(kBob, id, "").ok());
  registry.Release(kAlice, id);
  EXPECT_EQ(registry.Collect(), 0);
  registry.DropSession(kBob);
  EXPECT_EQ(registry.Collect(), 1);
}

TEST(Registry, NamedObjectOutlivesSessionsUntilDeleted) {
  Registry registry(0);
  const uint64_t id = MakeList(registry, kAlice, "jobs");
  registry.DropSession(kAlice);
  EXPECT_EQ(registry.Collect(), 0);
  auto again = registry.Create(kBob, Kind::kList, "jobs", NewList());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->first, id);
  EXPECT_FALSE(again->second);
  registry.DropSession(kBob);
  ASSERT_TRUE(registry.DeleteName("jobs").ok());
  EXPECT_EQ(registry.Collect(), 1);
  EXPECT_EQ(ErrorKindOf(registry.DeleteName("jobs")), ErrorKind::kKeyError);
}

TEST(Registry, NameOfAnotherKindIsTypeError) {
  Registry registry(0);
  MakeList(registry, kAlice, "jobs");
  auto clash = registry.Create(kAlice, Kind::kDict, "jobs", NewList());
  EXPECT_EQ(ErrorKindOf(clash.status()), ErrorKind::kTypeError);
}

TEST(Registry, ContainerKeepsItsTargetAlive) {
  Registry registry(0);
  const uint64_t outer = MakeList(registry, kAlice);
  const uint64_t inner = MakeList(registry, kAlice);
  ASSERT_TRUE(ListAt(registry, outer).Append(RefTo(inner)).ok());
  ListAt(registry, outer).MarkMayHoldRefs();
  registry.Release(kAlice, inner);
  EXPECT_EQ(registry.Collect(), 0);
  auto listed = registry.List();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[1].id, inner);
  EXPECT_EQ(listed[1].container_refs, 1);
  EXPECT_EQ(listed[1].session_refs, 0);
  registry.Release(kAlice, outer);
  EXPECT_EQ(registry.Collect(), 2);
}

TEST(Registry, UnreachableCycleIsCollected) {
  Registry registry(0);
  const uint64_t a = MakeList(registry, kAlice);
  const uint64_t b = MakeList(registry, kAlice);
  ASSERT_TRUE(ListAt(registry, a).Append(RefTo(b)).ok());
  ASSERT_TRUE(ListAt(registry, b).Append(RefTo(a)).ok());
  ListAt(registry, a).MarkMayHoldRefs();
  ListAt(registry, b).MarkMayHoldRefs();
  registry.DropSession(kAlice);
  EXPECT_EQ(registry.Collect(), 2);
}

TEST(Registry, RefsToMissingObjectsAreValueErrors) {
  Registry registry(0);
  EXPECT_EQ(ErrorKindOf(registry.CheckRefs(Value::list({1, RefTo(99)}))), ErrorKind::kValueError);
  const uint64_t id = MakeList(registry, kAlice);
  EXPECT_TRUE(registry.CheckRefs(Value::list({RefTo(id)})).ok());
  ObjectRef wrong_kind;
  wrong_kind.id = id;
  wrong_kind.kind = Kind::kDict;
  EXPECT_EQ(ErrorKindOf(registry.CheckRefs(Value(wrong_kind))), ErrorKind::kValueError);
}

TEST(Registry, RetainedRefsInRepliesCountForTheSession) {
  Registry registry(0);
  const uint64_t id = MakeList(registry, kAlice);
  registry.RetainRefs(kBob, Value::list({RefTo(id), RefTo(id)}));
  EXPECT_EQ(registry.SessionRefs(kBob).at(id), 2);
  registry.DropSession(kAlice);
  registry.Release(kBob, id);
  EXPECT_EQ(registry.Collect(), 0);
  registry.Release(kBob, id);
  EXPECT_EQ(registry.Collect(), 1);
}

TEST(Registry, ObjectLimitIsLimitError) {
  Registry registry(2);
  MakeList(registry, kAlice);
  MakeList(registry, kAlice);
  auto third = registry.Create(kAlice, Kind::kList, "", NewList());
  EXPECT_EQ(ErrorKindOf(third.status()), ErrorKind::kLimitError);
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(Registry, SessionRefCountsAgreeThroughEveryChange) {
  Registry registry(0);
  const uint64_t id = MakeList(registry, kAlice, "jobs");
  EXPECT_EQ(SessionRefsOf(registry, id, {kAlice, kBob}), 1);
  ASSERT_TRUE(registry.Create(kBob, Kind::kList, "jobs", NewList()).ok());
  EXPECT_EQ(SessionRefsOf(registry, id, {kAlice, kBob}), 2);
  ASSERT_TRUE(registry.Retain(kAlice, 0, "jobs").ok());
  EXPECT_EQ(SessionRefsOf(registry, id, {kAlice, kBob}), 3);
  registry.RetainRefs(kBob, Value::list({RefTo(id), RefTo(id)}));
  EXPECT_EQ(SessionRefsOf(registry, id, {kAlice, kBob}), 5);
  registry.Release(kAlice, id);
  EXPECT_EQ(SessionRefsOf(registry, id, {kAlice, kBob}), 4);
  EXPECT_EQ(registry.SessionRefs(kAlice).at(id), 1);
  registry.DropSession(kBob);
  EXPECT_EQ(SessionRefsOf(registry, id, {kAlice, kBob}), 1);
  EXPECT_TRUE(registry.SessionRefs(kBob).empty());
  registry.Release(kAlice, id);
  EXPECT_EQ(SessionRefsOf(registry, id, {kAlice, kBob}), 0);
  EXPECT_TRUE(registry.SessionRefs(kAlice).empty());
  // Named: it stays without session references.
  EXPECT_EQ(registry.Collect(), 0);
}

TEST(Registry, ReleasingWhatASessionDoesNotHoldChangesNothing) {
  Registry registry(0);
  const uint64_t id = MakeList(registry, kAlice);
  EXPECT_EQ(registry.Collect(), 0);
  registry.Release(kBob, id);
  registry.Release(kAlice, id + 1);
  registry.DropSession(kBob);
  EXPECT_EQ(SessionRefsOf(registry, id, {kAlice, kBob}), 1);
  EXPECT_FALSE(registry.collect_wanted());
  EXPECT_EQ(registry.Collect(), 0);
  // A session drops no more than it holds.
  registry.Release(kAlice, id);
  registry.Release(kAlice, id);
  EXPECT_TRUE(registry.SessionRefs(kAlice).empty());
  EXPECT_EQ(registry.Collect(), 1);
}

TEST(Registry, EndedSessionHoldsNothingAndItsObjectsGo) {
  Registry registry(0);
  const uint64_t a = MakeList(registry, kAlice);
  const uint64_t b = MakeList(registry, kAlice);
  ASSERT_TRUE(registry.Retain(kAlice, a, "").ok());
  ASSERT_TRUE(registry.Retain(kBob, b, "").ok());
  registry.DropSession(kAlice);
  EXPECT_TRUE(registry.SessionRefs(kAlice).empty());
  EXPECT_EQ(SessionRefsOf(registry, b, {kAlice, kBob}), 1);
  EXPECT_TRUE(registry.collect_wanted());
  EXPECT_EQ(registry.Collect(), 1);
  EXPECT_EQ(ErrorKindOf(registry.Find(a, "").status()), ErrorKind::kKeyError);
}

}  // namespace
}  // namespace shoal::server
