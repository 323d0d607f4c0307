#include "server/core/object_factory.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"

#include "server/core/registry.h"
#include "server/core/timer_queue.h"
#include "server/objects/connection_object.h"
#include "server/objects/list_object.h"
#include "server/objects/memory_budget.h"
#include "server/objects/semaphore_object.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

constexpr SessionId kAlice = 1;
constexpr SessionId kBob = 2;

ObjectSpec Spec(Kind kind, Value initial = Value()) {
  ObjectSpec spec;
  spec.kind = kind;
  spec.initial = std::move(initial);
  return spec;
}

class ObjectFactoryTest : public ::testing::Test {
 protected:
  // The objects cancel their timers and give back their bytes when they go,
  // so the timers and the budget outlive the registry.
  TimerQueue timers_;
  MemoryBudget budget_{int64_t{1} << 20};
  Registry registry_{0};
  ObjectFactory factory_{&registry_, &budget_, &timers_};

  // Creates for kAlice and returns the new object's kind; kUnspecified (and
  // a test failure) when the factory refused.
  Kind Made(ObjectSpec spec) {
    absl::StatusOr<CreatedObject> created = factory_.Create(kAlice, std::move(spec));
    EXPECT_TRUE(created.ok()) << created.status();
    if (!created.ok()) return Kind::kUnspecified;
    EXPECT_TRUE(created->created);
    return (*registry_.Find(created->id, ""))->kind();
  }

  // The error kind of a refused creation, which must leave the registry as
  // it was.
  ErrorKind Refused(ObjectSpec spec) {
    const size_t before = registry_.size();
    absl::StatusOr<CreatedObject> created = factory_.Create(kAlice, std::move(spec));
    EXPECT_FALSE(created.ok());
    EXPECT_EQ(registry_.size(), before);
    return ErrorKindOf(created.status());
  }
};

TEST_F(ObjectFactoryTest, MakesEveryKind) {
  EXPECT_EQ(Made(Spec(Kind::kList, Value::list({1, 2}))), Kind::kList);
  EXPECT_EQ(Made(Spec(Kind::kDict)), Kind::kDict);
  EXPECT_EQ(Made(Spec(Kind::kNamespace, Value::dict({{"a", 1}}))), Kind::kNamespace);
  EXPECT_EQ(Made(Spec(Kind::kValue, 5)), Kind::kValue);
  EXPECT_EQ(Made(Spec(Kind::kLock)), Kind::kLock);
  EXPECT_EQ(Made(Spec(Kind::kRLock)), Kind::kRLock);
  EXPECT_EQ(Made(Spec(Kind::kSemaphore, 3)), Kind::kSemaphore);
  EXPECT_EQ(Made(Spec(Kind::kBoundedSemaphore)), Kind::kBoundedSemaphore);
  EXPECT_EQ(Made(Spec(Kind::kCondition)), Kind::kCondition);
  EXPECT_EQ(Made(Spec(Kind::kEvent)), Kind::kEvent);
  ObjectSpec barrier = Spec(Kind::kBarrier);
  barrier.parties = 2;
  EXPECT_EQ(Made(barrier), Kind::kBarrier);
  EXPECT_EQ(Made(Spec(Kind::kQueue)), Kind::kQueue);
  EXPECT_EQ(Made(Spec(Kind::kJoinableQueue)), Kind::kJoinableQueue);
  ObjectSpec array = Spec(Kind::kArray, Value::list({1, 2}));
  array.typecode = "i";
  EXPECT_EQ(Made(array), Kind::kArray);
  // A Pipe is three objects: itself and its two ends.
  EXPECT_EQ(Made(Spec(Kind::kPipe)), Kind::kPipe);
  EXPECT_EQ(registry_.SessionRefs(kAlice).size(), 17u);
}

TEST_F(ObjectFactoryTest, ArrayIsMadeFromItsTypecodeAndALengthOrItems) {
  ObjectSpec spec = Spec(Kind::kArray, 3);
  spec.typecode = "d";
  absl::StatusOr<CreatedObject> zeros = factory_.Create(kAlice, spec);
  ASSERT_TRUE(zeros.ok()) << zeros.status();
  EXPECT_EQ((*registry_.Find(zeros->id, ""))->Repr(), "array('d', [0.0, 0.0, 0.0])");
  EXPECT_EQ(budget_.used(), 24);  // three doubles
  spec.typecode = "x";
  EXPECT_EQ(Refused(spec), ErrorKind::kValueError);
  spec.typecode = "b";
  spec.initial = Value::list({1, 1000});
  EXPECT_EQ(Refused(spec), ErrorKind::kOverflowError);
  spec.initial = Value::list({1, "x"});
  EXPECT_EQ(Refused(spec), ErrorKind::kTypeError);
  spec.initial = Value();
  EXPECT_EQ(Refused(spec), ErrorKind::kTypeError);
  spec.initial = int64_t{1} << 40;
  EXPECT_EQ(Refused(spec), ErrorKind::kLimitError);
  EXPECT_EQ(budget_.used(), 24);
}

TEST_F(ObjectFactoryTest, InitialValueOfTheWrongTypeIsTypeError) {
  EXPECT_EQ(Refused(Spec(Kind::kList, 1)), ErrorKind::kTypeError);
  EXPECT_EQ(Refused(Spec(Kind::kDict, Value::list({}))), ErrorKind::kTypeError);
  EXPECT_EQ(Refused(Spec(Kind::kNamespace, "a")), ErrorKind::kTypeError);
  EXPECT_EQ(Refused(Spec(Kind::kNamespace, Value::dict({{1, 1}}))), ErrorKind::kTypeError);
  EXPECT_EQ(Refused(Spec(Kind::kSemaphore, "three")), ErrorKind::kTypeError);
}

TEST_F(ObjectFactoryTest, KindWithoutObjectsIsValueErrorNamingIt) {
  ObjectSpec spec = Spec(Kind::kUnspecified);
  spec.kind_label = "KIND_UNSPECIFIED";
  absl::StatusOr<CreatedObject> created = factory_.Create(kAlice, spec);
  EXPECT_EQ(ErrorKindOf(created.status()), ErrorKind::kValueError);
  EXPECT_EQ(created.status().message(), "cannot create objects of kind KIND_UNSPECIFIED");
  EXPECT_EQ(registry_.size(), 0u);
}

TEST_F(ObjectFactoryTest, BarrierTimeoutIsANonNegativeNumberOfSeconds) {
  ObjectSpec spec = Spec(Kind::kBarrier);
  spec.parties = 2;
  for (double bad : {-1.0, std::nan("")}) {
    spec.timeout_seconds = bad;
    EXPECT_EQ(Refused(spec), ErrorKind::kValueError) << bad;
  }
  for (double good : {0.0, 1.5, std::numeric_limits<double>::infinity()}) {
    spec.timeout_seconds = good;
    EXPECT_EQ(Made(spec), Kind::kBarrier) << good;
  }
}

TEST_F(ObjectFactoryTest, SemaphoresReleaseAtSessionEndAsAskedOrByTheirKind) {
  // Whether the made semaphore releases a session's permits when it ends.
  auto releases = [&](Kind kind, std::optional<bool> asked) {
    ObjectSpec spec = Spec(kind, 1);
    spec.release_at_session_end = asked;
    absl::StatusOr<CreatedObject> created = factory_.Create(kAlice, spec);
    EXPECT_TRUE(created.ok()) << created.status();
    if (!created.ok()) return false;
    const auto& sem = static_cast<const SemaphoreObject&>(**registry_.Find(created->id, ""));
    return sem.ReleasesAtSessionEnd();
  };
  EXPECT_FALSE(releases(Kind::kSemaphore, std::nullopt));
  EXPECT_TRUE(releases(Kind::kSemaphore, true));
  EXPECT_TRUE(releases(Kind::kBoundedSemaphore, std::nullopt));
  EXPECT_FALSE(releases(Kind::kBoundedSemaphore, false));
}

TEST_F(ObjectFactoryTest, ConditionWorksOverAnExistingLockOrRLock) {
  absl::StatusOr<CreatedObject> lock = factory_.Create(kAlice, Spec(Kind::kRLock));
  ASSERT_TRUE(lock.ok());
  ObjectSpec over = Spec(Kind::kCondition);
  over.lock_id = lock->id;
  EXPECT_EQ(Made(over), Kind::kCondition);

  absl::StatusOr<CreatedObject> list = factory_.Create(kAlice, Spec(Kind::kList));
  ASSERT_TRUE(list.ok());
  over.lock_id = list->id;
  EXPECT_EQ(Refused(over), ErrorKind::kTypeError);
  over.lock_id = 999;
  EXPECT_EQ(Refused(over), ErrorKind::kKeyError);
}

TEST_F(ObjectFactoryTest, NameIsGetOrCreate) {
  ObjectSpec spec = Spec(Kind::kDict);
  spec.name = "results";
  absl::StatusOr<CreatedObject> first = factory_.Create(kAlice, spec);
  absl::StatusOr<CreatedObject> again = factory_.Create(kBob, spec);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(first->created);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->id, first->id);
  EXPECT_EQ(registry_.SessionRefs(kBob).at(first->id), 1);
  spec.kind = Kind::kList;
  EXPECT_EQ(Refused(spec), ErrorKind::kTypeError);
}

TEST_F(ObjectFactoryTest, InitialValueMayReferToLiveObjectsOnly) {
  absl::StatusOr<CreatedObject> inner = factory_.Create(kAlice, Spec(Kind::kList));
  ASSERT_TRUE(inner.ok());
  ObjectRef ref;
  ref.id = inner->id;
  ref.kind = Kind::kList;
  absl::StatusOr<CreatedObject> outer =
      factory_.Create(kAlice, Spec(Kind::kList, Value::list({Value(ref)})));
  ASSERT_TRUE(outer.ok());
  // The outer list holds a reference, so the collector scans it.
  EXPECT_TRUE((*registry_.Find(outer->id, ""))->may_hold_refs());
  ref.id = 999;
  EXPECT_EQ(Refused(Spec(Kind::kList, Value::list({Value(ref)}))), ErrorKind::kValueError);
}

// The end with this id.
ConnectionObject& End(Registry& registry, uint64_t id) {
  return static_cast<ConnectionObject&>(**registry.Find(id, "", Kind::kConnection));
}

TEST_F(ObjectFactoryTest, APipeIsTwoEndsAndANamedPipeGivesEverySessionTheSameEnds) {
  ObjectSpec spec = Spec(Kind::kPipe);
  spec.name = "chat";
  spec.duplex = false;
  absl::StatusOr<CreatedObject> pipe = factory_.Create(kAlice, spec);
  ASSERT_TRUE(pipe.ok()) << pipe.status();
  EXPECT_TRUE(pipe->created);
  ASSERT_EQ(pipe->ends.size(), 2u);
  EXPECT_EQ((*registry_.Find(pipe->id, ""))->kind(), Kind::kPipe);
  ConnectionObject& in = End(registry_, pipe->ends[0]);
  ConnectionObject& out = End(registry_, pipe->ends[1]);
  EXPECT_TRUE(in.Readable() && !in.Writable());
  EXPECT_TRUE(out.Writable() && !out.Readable());
  // Each end names the other in its repr.
  EXPECT_EQ(in.Repr(), absl::StrCat("<Connection read-only, peer #", pipe->ends[1], ", 0 messages>"));
  EXPECT_EQ(registry_.SessionRefs(kAlice).size(), 3u);

  // Get: another session gets the same ends, in the same order, whatever
  // duplex it asks for.
  spec.duplex = true;
  absl::StatusOr<CreatedObject> again = factory_.Create(kBob, spec);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->id, pipe->id);
  EXPECT_EQ(again->ends, pipe->ends);
  for (uint64_t id : {pipe->id, pipe->ends[0], pipe->ends[1]}) {
    EXPECT_EQ(registry_.SessionRefs(kBob).at(id), 1);
  }
  // The name holds the pipe, and the pipe its ends.
  registry_.DropSession(kAlice);
  registry_.DropSession(kBob);
  EXPECT_EQ(registry_.Collect(), 0);
  EXPECT_FALSE(End(registry_, pipe->ends[0]).Closed());
  ASSERT_TRUE(registry_.DeleteName("chat").ok());
  EXPECT_EQ(registry_.Collect(), 3);
}

TEST_F(ObjectFactoryTest, AnAnonymousPipesEndsOutliveItAndCloseWithTheirLastReference) {
  absl::StatusOr<CreatedObject> pipe = factory_.Create(kAlice, Spec(Kind::kPipe));
  ASSERT_TRUE(pipe.ok()) << pipe.status();
  ConnectionObject& first = End(registry_, pipe->ends[0]);
  // The client lets the pipe go at once and keeps the ends.
  registry_.Release(kAlice, pipe->id);
  EXPECT_EQ(registry_.Collect(), 1);
  EXPECT_FALSE(first.PeerClosed());
  // The second end's last reference goes: it is freed, and so closed.
  registry_.Release(kAlice, pipe->ends[1]);
  EXPECT_EQ(registry_.Collect(), 1);
  EXPECT_TRUE(first.PeerClosed());
}

TEST_F(ObjectFactoryTest, BadPipesAreRefusedAndLeaveNothingBehind) {
  ObjectSpec spec = Spec(Kind::kPipe);
  spec.maxsize = -1;
  EXPECT_EQ(Refused(spec), ErrorKind::kValueError);
  // An end is made with its peer only.
  EXPECT_EQ(Refused(Spec(Kind::kConnection)), ErrorKind::kValueError);
  ObjectSpec dict = Spec(Kind::kDict);
  dict.name = "taken";
  ASSERT_TRUE(factory_.Create(kAlice, dict).ok());
  spec = Spec(Kind::kPipe);
  spec.name = "taken";
  EXPECT_EQ(Refused(spec), ErrorKind::kTypeError);
  EXPECT_EQ(registry_.SessionRefs(kAlice).size(), 1u);

  // Past the object limit after its ends: they are released and collected.
  Registry small(2);
  ObjectFactory factory(&small, &budget_, &timers_);
  absl::StatusOr<CreatedObject> pipe = factory.Create(kAlice, Spec(Kind::kPipe));
  EXPECT_EQ(ErrorKindOf(pipe.status()), ErrorKind::kLimitError);
  EXPECT_TRUE(small.SessionRefs(kAlice).empty());
  EXPECT_EQ(small.Collect(), 2);
  EXPECT_EQ(small.size(), 0u);
}

}  // namespace
}  // namespace shoal::server
