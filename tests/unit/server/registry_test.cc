#include "server/core/registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/time/time.h"
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

// v with its references bound, as the server stores values.
Value Bound(Registry& registry, Value v) {
  EXPECT_TRUE(registry.BindRefs(v).ok());
  return v;
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

TEST(Registry, GenerationMovesWhenAnObjectOrANameComesOrGoes) {
  Registry registry(0);
  uint64_t seen = registry.generation();
  const auto changed = [&] {
    const uint64_t now = registry.generation();
    const bool moved = now != seen;
    seen = now;
    return moved;
  };
  const uint64_t named = MakeList(registry, kAlice, "jobs");
  EXPECT_TRUE(changed());
  // What does not change an id's or a name's answer leaves it as it was:
  // a lookup, another session's reference, get-or-create of the name.
  ASSERT_TRUE(registry.Find(named, "").ok());
  ASSERT_TRUE(registry.Retain(kBob, named, "").ok());
  ASSERT_TRUE(registry.Create(kBob, Kind::kList, "jobs", NewList()).ok());
  EXPECT_FALSE(changed());
  ASSERT_TRUE(registry.DeleteName("jobs").ok());
  EXPECT_TRUE(changed());
  // A reference let go while another session holds the object, and a
  // collection that frees nothing.
  registry.Release(kBob, named);
  EXPECT_EQ(registry.Collect(), 0);
  EXPECT_FALSE(changed());
  const uint64_t anonymous = MakeList(registry, kAlice);
  EXPECT_TRUE(changed());
  registry.Release(kAlice, anonymous);
  EXPECT_EQ(registry.Collect(), 1);
  EXPECT_TRUE(changed());
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
  ASSERT_TRUE(ListAt(registry, outer).Append(Bound(registry, RefTo(inner))).ok());
  ListAt(registry, outer).MarkMayHoldRefs();
  registry.Release(kAlice, inner);
  EXPECT_EQ(registry.Collect(), 0);
  {
    // A summary holds its object while it lives.
    auto listed = registry.List();
    ASSERT_EQ(listed.size(), 2u);
    EXPECT_EQ(listed[1].id, inner);
    EXPECT_EQ(listed[1].container_refs, 1);
    EXPECT_EQ(listed[1].session_refs, 0);
  }
  registry.Release(kAlice, outer);
  EXPECT_EQ(registry.Collect(), 2);
}

TEST(Registry, UnreachableCycleIsCollected) {
  Registry registry(0);
  const uint64_t a = MakeList(registry, kAlice);
  const uint64_t b = MakeList(registry, kAlice);
  ASSERT_TRUE(ListAt(registry, a).Append(Bound(registry, RefTo(b))).ok());
  ASSERT_TRUE(ListAt(registry, b).Append(Bound(registry, RefTo(a))).ok());
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


TEST(Registry, LastReferenceGoingFreesWithoutACyclePass) {
  Registry registry(0);
  const uint64_t outer = MakeList(registry, kAlice);
  const uint64_t inner = MakeList(registry, kAlice);
  ASSERT_TRUE(ListAt(registry, outer).Append(Bound(registry, RefTo(inner))).ok());
  ListAt(registry, outer).MarkMayHoldRefs();
  registry.Release(kAlice, inner);
  // Only the list refers to inner now: a candidate, not freed.
  EXPECT_EQ(registry.Reap(), 0);
  EXPECT_EQ(registry.Summarize(inner, "")->container_refs, 1);
  // Counting alone frees outer, whose values held the last reference to
  // inner, which goes in the same Reap.
  registry.Release(kAlice, outer);
  EXPECT_EQ(registry.Reap(), 2);
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_FALSE(registry.collect_wanted());
}

// A call in flight holds the collector lock shared for its whole length. A
// collection that has no cycle candidates (a dropped object is freed by
// counting) must not wait for it: the exclusive lock would also hold back
// every call that comes while it waits.
TEST(Registry, CollectingWithoutCandidatesDoesNotWaitForCallsInFlight) {
  Registry registry(0);
  const uint64_t id = MakeList(registry, kAlice);
  registry.Release(kAlice, id);
  registry.collector_mutex().ReaderLock();  // a call in flight
  Notification collected;
  int freed = -1;
  std::thread collector([&] {
    freed = registry.Collect();
    collected.Notify();
  });
  const bool done = collected.WaitForNotificationWithTimeout(absl::Seconds(30));
  registry.collector_mutex().ReaderUnlock();
  collector.join();
  EXPECT_TRUE(done) << "Collect waited for the call in flight";
  EXPECT_EQ(freed, 1);
  EXPECT_EQ(registry.size(), 0u);
}

// Objects dropped in a loop wake the housekeeping thread once per batch it
// takes, not once each: the first reference to go after a Reap wakes it,
// those that go before its next Reap only join the batch.
TEST(Registry, ReferencesThatGoBeforeTheNextReapWakeOnce) {
  Registry registry(0);
  int wakes = 0;
  registry.set_wake([&wakes] { ++wakes; });
  std::vector<uint64_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(MakeList(registry, kAlice));
  registry.Release(kAlice, ids[0]);
  EXPECT_EQ(wakes, 1);
  registry.Release(kAlice, ids[1]);
  registry.Release(kAlice, ids[2]);
  EXPECT_EQ(wakes, 1);
  EXPECT_EQ(registry.Reap(), 3);
  // The batch is taken: the next reference to go wakes again.
  registry.Release(kAlice, ids[3]);
  EXPECT_EQ(wakes, 2);
  EXPECT_EQ(registry.Reap(), 1);
  EXPECT_EQ(registry.size(), 0u);
  registry.set_wake(nullptr);
}

TEST(Registry, ValueSharedByTwoContainersCountsOnceAndKeepsItsTarget) {
  Registry registry(0);
  const uint64_t a = MakeList(registry, kAlice);
  const uint64_t b = MakeList(registry, kAlice);
  const uint64_t target = MakeList(registry, kAlice);
  // Copies of one value share its list, and so its one bound reference.
  const Value shared = Bound(registry, Value::list({RefTo(target)}));
  ASSERT_TRUE(ListAt(registry, a).Append(shared).ok());
  ASSERT_TRUE(ListAt(registry, b).Append(shared).ok());
  ListAt(registry, a).MarkMayHoldRefs();
  ListAt(registry, b).MarkMayHoldRefs();
  registry.Release(kAlice, target);
  registry.Release(kAlice, a);
  // a goes; the copy in b still holds target, whatever the cycle pass counts.
  EXPECT_EQ(registry.Collect(), 1);
  EXPECT_TRUE(registry.Find(target, "").ok());
  EXPECT_TRUE(registry.Find(b, "").ok());
}

TEST(Registry, CycleHeldFromOutsideLivesUntilLetGo) {
  Registry registry(0);
  const uint64_t holder = MakeList(registry, kAlice);
  const uint64_t a = MakeList(registry, kAlice);
  const uint64_t b = MakeList(registry, kAlice);
  ASSERT_TRUE(ListAt(registry, a).Append(Bound(registry, RefTo(b))).ok());
  ASSERT_TRUE(ListAt(registry, b).Append(Bound(registry, RefTo(a))).ok());
  ASSERT_TRUE(ListAt(registry, holder).Append(Bound(registry, RefTo(a))).ok());
  for (uint64_t id : {holder, a, b}) ListAt(registry, id).MarkMayHoldRefs();
  registry.Release(kAlice, a);
  registry.Release(kAlice, b);
  EXPECT_EQ(registry.Collect(), 0);
  EXPECT_EQ(registry.size(), 3u);
  // The holder lets a go: the cycle refers only to itself now.
  ListAt(registry, holder).Clear();
  EXPECT_EQ(registry.Collect(), 2);
  EXPECT_EQ(registry.size(), 1u);
}

TEST(Registry, CycleReferredToByAValueOutsideEveryObjectLives) {
  Registry registry(0);
  const uint64_t a = MakeList(registry, kAlice);
  const uint64_t b = MakeList(registry, kAlice);
  ASSERT_TRUE(ListAt(registry, a).Append(Bound(registry, RefTo(b))).ok());
  ASSERT_TRUE(ListAt(registry, b).Append(Bound(registry, RefTo(a))).ok());
  ListAt(registry, a).MarkMayHoldRefs();
  ListAt(registry, b).MarkMayHoldRefs();
  {
    // A value a call holds (a reply on its way, an item of a parked put).
    const Value in_flight = Bound(registry, RefTo(a));
    registry.DropSession(kAlice);
    EXPECT_EQ(registry.Collect(), 0);
    EXPECT_EQ(registry.Summarize(a, "")->container_refs, 2);
  }
  EXPECT_EQ(registry.Collect(), 2);
}

TEST(Registry, ListsByPageInIdOrder) {
  Registry registry(0);
  std::vector<uint64_t> ids;
  for (int i = 0; i < 7; ++i) ids.push_back(MakeList(registry, kAlice));
  std::vector<uint64_t> seen;
  uint64_t after = 0;
  for (;;) {
    const std::vector<ObjectSummary> page = registry.List(after, 3);
    if (page.empty()) break;
    EXPECT_LE(page.size(), 3u);
    for (const ObjectSummary& summary : page) seen.push_back(summary.id);
    after = page.back().id;
  }
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(registry.List().size(), 7u);
}

TEST(Registry, ReferenceToAnObjectGoneBeforeBindingIsValueError) {
  Registry registry(0);
  const uint64_t id = MakeList(registry, kAlice);
  registry.Release(kAlice, id);
  ASSERT_EQ(registry.Collect(), 1);
  Value value = Value::list({RefTo(id)});
  EXPECT_EQ(ErrorKindOf(registry.BindRefs(value)), ErrorKind::kValueError);
}

TEST(Registry, FreeingRacesNeverTakeWhatAContainerHolds) {
  Registry registry(0);
  std::atomic<bool> stop{false};
  std::atomic<int> lost{0};
  std::thread collector([&] {
    while (!stop.load()) registry.Collect();
  });
  std::vector<std::thread> workers;
  for (SessionId session = 10; session < 14; ++session) {
    workers.emplace_back([&, session] {
      for (int i = 0; i < 300; ++i) {
        const uint64_t outer = MakeList(registry, session);
        const uint64_t inner = MakeList(registry, session);
        ListObject& list = ListAt(registry, outer);
        list.MarkMayHoldRefs();
        // A cycle through inner, and outer holding inner.
        ASSERT_TRUE(ListAt(registry, inner).Append(Bound(registry, RefTo(outer))).ok());
        ListAt(registry, inner).MarkMayHoldRefs();
        ASSERT_TRUE(list.Append(Bound(registry, RefTo(inner))).ok());
        registry.Release(session, inner);
        // outer's session reference keeps both, whatever the collector does.
        if (!registry.Find(inner, "").ok()) lost.fetch_add(1);
        registry.Release(session, outer);
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  stop = true;
  collector.join();
  EXPECT_EQ(lost.load(), 0);
  registry.Collect();
  EXPECT_EQ(registry.size(), 0u);
}

}  // namespace
}  // namespace shoal::server
