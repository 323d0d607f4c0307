#include "server/objects/queue_object.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/objects/memory_budget.h"
#include "shared/error_kind.h"
#include "tests/unit/objects/manual_timers.h"
#include "tests/unit/objects/promised.h"
#include "tests/unit/objects/recorder.h"
#include "tests/unit/objects/test_util.h"

namespace shoal::server {
namespace {

using ::shoal::server::testing::ManualTimers;
using ::shoal::server::testing::Promised;
using ::shoal::server::testing::Recorder;
using ::shoal::testing_util::IsError;
using ::shoal::testing_util::IsKind;
using ::shoal::testing_util::IsOk;

using Names = std::vector<std::string>;

class QueueObjectTest : public ::testing::Test {
 protected:
  std::unique_ptr<QueueObject> Make(int64_t maxsize, Kind kind = Kind::kQueue,
                                    MemoryBudget* budget = nullptr) {
    absl::StatusOr<std::unique_ptr<QueueObject>> queue =
        QueueObject::Create(kind, maxsize, budget, &timers_);
    EXPECT_TRUE(queue.ok()) << queue.status();
    return queue.ok() ? *std::move(queue) : nullptr;
  }
  WaitRequest Request(std::string name, std::optional<absl::Time> deadline = std::nullopt,
                      SessionId session = 1) {
    return WaitRequest{Caller{session}, deadline, recorder_.Track(std::move(name))};
  }
  // put_nowait and get_nowait: a deadline of now.
  WaitRequest NoWait(std::string name, SessionId session = 1) {
    return Request(std::move(name), timers_.Now(), session);
  }
  absl::Time In(absl::Duration d) { return timers_.Now() + d; }

  ::testing::AssertionResult Got(const std::string& name, const Value& item) {
    const Outcome outcome = recorder_.Of(name);
    if (!outcome.status.ok())
      return ::testing::AssertionFailure() << name << ": " << outcome.status;
    if (outcome.value != item) {
      return ::testing::AssertionFailure()
             << name << " got " << outcome.value.repr() << ", want " << item.repr();
    }
    return ::testing::AssertionSuccess();
  }
  ::testing::AssertionResult Done(const std::string& name) { return Got(name, Value()); }
  ::testing::AssertionResult Failed(const std::string& name, ErrorKind kind) {
    return IsKind(recorder_.Of(name).status, kind);
  }
  ::testing::AssertionResult Cancelled(const std::string& name) {
    const absl::Status status = recorder_.Of(name).status;
    if (status.code() == absl::StatusCode::kCancelled) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << name << ": " << status;
  }

  ManualTimers timers_;
  Recorder recorder_;
};

TEST_F(QueueObjectTest, CreatesQueuesOfEitherKindOnly) {
  std::unique_ptr<QueueObject> queue = Make(10);
  ASSERT_NE(queue, nullptr);
  EXPECT_EQ(queue->kind(), Kind::kQueue);
  EXPECT_EQ(queue->MaxSize(), 10);
  EXPECT_EQ(queue->QSize(), 0);
  EXPECT_EQ(queue->Size(), 0);
  EXPECT_TRUE(queue->Empty());
  EXPECT_FALSE(queue->Full());
  EXPECT_EQ(queue->Repr(), "<Queue 0 items, maxsize=10>");

  std::unique_ptr<QueueObject> joinable = Make(0, Kind::kJoinableQueue);
  ASSERT_NE(joinable, nullptr);
  EXPECT_EQ(joinable->kind(), Kind::kJoinableQueue);
  EXPECT_EQ(joinable->Repr(), "<JoinableQueue 0 items, maxsize=0>");

  EXPECT_TRUE(
      IsKind(QueueObject::Create(Kind::kList, 0, nullptr, &timers_), ErrorKind::kValueError));
}

TEST_F(QueueObjectTest, ItemsComeOutInTheOrderTheyWentIn) {
  std::unique_ptr<QueueObject> queue = Make(0);
  for (const Value& item : {Value(1), Value("two"), Value(3.5), Value(), Value::list({1, 2})}) {
    EXPECT_EQ(queue->Put(Request("put " + item.repr()), item), 0u);
  }
  EXPECT_EQ(queue->QSize(), 5);
  EXPECT_EQ(queue->Size(), 5);
  EXPECT_EQ(queue->Repr(), "<Queue 5 items, maxsize=0>");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(queue->Get(Request("get " + std::to_string(i))), 0u);
  EXPECT_TRUE(Got("get 0", 1));
  EXPECT_TRUE(Got("get 1", "two"));
  EXPECT_TRUE(Got("get 2", 3.5));
  EXPECT_TRUE(Got("get 3", Value()));
  EXPECT_TRUE(Got("get 4", Value::list({1, 2})));
  EXPECT_TRUE(Done("put 1"));
  EXPECT_TRUE(queue->Empty());
}

TEST_F(QueueObjectTest, AnUnboundedQueueIsNeverFull) {
  for (int64_t maxsize : {0, -1}) {
    std::unique_ptr<QueueObject> queue = Make(maxsize);
    for (int i = 0; i < 100; ++i) {
      EXPECT_EQ(queue->Put(NoWait("p" + std::to_string(maxsize)), i), 0u);
    }
    EXPECT_FALSE(queue->Full());
    EXPECT_EQ(queue->QSize(), 100);
    EXPECT_EQ(queue->MaxSize(), maxsize);
  }
  for (const Recorder::Entry& entry : recorder_.log()) EXPECT_TRUE(IsOk(entry.outcome.status));
}

TEST_F(QueueObjectTest, NonBlockingPathsAreFullAndEmptyAtOnce) {
  std::unique_ptr<QueueObject> queue = Make(2);
  EXPECT_EQ(queue->Get(NoWait("get empty")), 0u);
  EXPECT_TRUE(IsError(recorder_.Of("get empty").status, ErrorKind::kEmpty, ""));

  EXPECT_EQ(queue->Put(NoWait("put a"), "a"), 0u);
  EXPECT_FALSE(queue->Full());
  EXPECT_EQ(queue->Put(NoWait("put b"), "b"), 0u);
  EXPECT_TRUE(queue->Full());
  EXPECT_EQ(queue->Put(NoWait("put c"), "c"), 0u);
  EXPECT_TRUE(Done("put a"));
  EXPECT_TRUE(Done("put b"));
  EXPECT_TRUE(IsError(recorder_.Of("put c").status, ErrorKind::kFull, ""));
  EXPECT_EQ(queue->QSize(), 2);
  // A deadline in the past is the same as none left.
  EXPECT_EQ(queue->Put(Request("put d", In(-absl::Seconds(1))), "d"), 0u);
  EXPECT_TRUE(Failed("put d", ErrorKind::kFull));

  EXPECT_EQ(queue->Get(NoWait("get 1")), 0u);
  EXPECT_EQ(queue->Get(NoWait("get 2")), 0u);
  EXPECT_EQ(queue->Get(NoWait("get 3")), 0u);
  EXPECT_TRUE(Got("get 1", "a"));
  EXPECT_TRUE(Got("get 2", "b"));
  EXPECT_TRUE(Failed("get 3", ErrorKind::kEmpty));
  EXPECT_TRUE(queue->Empty());
  EXPECT_EQ(queue->NGetters(), 0);
  EXPECT_EQ(queue->NPutters(), 0);
  EXPECT_EQ(timers_.pending(), 0u);
}

TEST_F(QueueObjectTest, TimedPathsFailAtTheDeadline) {
  std::unique_ptr<QueueObject> queue = Make(1);
  EXPECT_NE(queue->Get(Request("get", In(absl::Seconds(1)))), 0u);
  EXPECT_EQ(queue->NGetters(), 1);
  timers_.Advance(absl::Milliseconds(999));
  EXPECT_TRUE(recorder_.log().empty());
  timers_.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(IsError(recorder_.Of("get").status, ErrorKind::kEmpty, ""));
  EXPECT_EQ(queue->NGetters(), 0);

  queue->Put(Request("put a"), "a");
  EXPECT_NE(queue->Put(Request("put b", In(absl::Seconds(2))), "b"), 0u);
  EXPECT_EQ(queue->NPutters(), 1);
  timers_.Advance(absl::Seconds(2));
  EXPECT_TRUE(IsError(recorder_.Of("put b").status, ErrorKind::kFull, ""));
  // The timed-out putter never adds its item.
  EXPECT_EQ(queue->QSize(), 1);
  EXPECT_EQ(queue->NPutters(), 0);
  queue->Get(Request("get a"));
  EXPECT_TRUE(Got("get a", "a"));
  EXPECT_TRUE(queue->Empty());
}

TEST_F(QueueObjectTest, APutGoesStraightToTheOldestParkedGetter) {
  std::unique_ptr<QueueObject> queue = Make(5);
  const WaitId g1 = queue->Get(Request("g1", In(absl::Seconds(1))));
  const WaitId g2 = queue->Get(Request("g2"));
  EXPECT_NE(g1, 0u);
  EXPECT_NE(g2, 0u);
  EXPECT_EQ(queue->NGetters(), 2);

  EXPECT_EQ(queue->Put(Request("put x"), "x"), 0u);
  EXPECT_EQ(recorder_.names(), (Names{"g1", "put x"}));
  EXPECT_TRUE(Got("g1", "x"));
  EXPECT_TRUE(Done("put x"));
  EXPECT_EQ(queue->QSize(), 0);
  // g1's timer went with it.
  EXPECT_EQ(timers_.pending(), 0u);

  queue->Put(Request("put y"), "y");
  EXPECT_TRUE(Got("g2", "y"));
  queue->Put(Request("put z"), "z");
  EXPECT_EQ(queue->QSize(), 1);
  EXPECT_EQ(queue->NGetters(), 0);
  timers_.Advance(absl::Seconds(5));
  EXPECT_EQ(recorder_.log().size(), 5u);
}

TEST_F(QueueObjectTest, ParkedPuttersAreAdmittedInOrderAsRoomFrees) {
  std::unique_ptr<QueueObject> queue = Make(2);
  queue->Put(Request("put a"), "a");
  queue->Put(Request("put b"), "b");
  EXPECT_NE(queue->Put(Request("put c", In(absl::Seconds(10))), "c"), 0u);
  EXPECT_NE(queue->Put(Request("put d"), "d"), 0u);
  EXPECT_NE(queue->Put(Request("put e"), "e"), 0u);
  EXPECT_EQ(queue->NPutters(), 3);
  EXPECT_EQ(queue->QSize(), 2);
  // Parked putters' items are not in the queue yet.
  EXPECT_EQ(queue->Repr(), "<Queue 2 items, maxsize=2>");

  queue->Get(Request("get 1"));
  EXPECT_EQ(recorder_.names(), (Names{"put a", "put b", "get 1", "put c"}));
  EXPECT_TRUE(Got("get 1", "a"));
  EXPECT_TRUE(Done("put c"));
  EXPECT_EQ(queue->QSize(), 2);
  EXPECT_EQ(timers_.pending(), 0u);

  queue->Get(Request("get 2"));
  EXPECT_TRUE(Done("put d"));
  EXPECT_EQ(queue->NPutters(), 1);
  for (int i = 3; i <= 5; ++i) queue->Get(Request("get " + std::to_string(i)));
  EXPECT_TRUE(Got("get 2", "b"));
  EXPECT_TRUE(Got("get 3", "c"));
  EXPECT_TRUE(Got("get 4", "d"));
  EXPECT_TRUE(Got("get 5", "e"));
  EXPECT_TRUE(Done("put e"));
  EXPECT_TRUE(queue->Empty());
  EXPECT_EQ(queue->NPutters(), 0);
}

TEST_F(QueueObjectTest, ACancelledGetterNeverTakesAnItem) {
  std::unique_ptr<QueueObject> queue = Make(0);
  const WaitId getter = queue->Get(Request("gone", In(absl::Seconds(1))));
  queue->Cancel(getter);
  EXPECT_TRUE(Cancelled("gone"));
  EXPECT_EQ(timers_.pending(), 0u);

  // The item put after the cancel stays in the queue for the next getter.
  queue->Put(Request("put x"), "x");
  EXPECT_EQ(queue->QSize(), 1);
  queue->Get(Request("next"));
  EXPECT_TRUE(Got("next", "x"));
  EXPECT_EQ(recorder_.log().size(), 3u);

  queue->Cancel(getter);
  queue->Cancel(0);
  EXPECT_EQ(recorder_.log().size(), 3u);
}

TEST_F(QueueObjectTest, AGetterWhoseSessionEndedNeverTakesAnItem) {
  std::unique_ptr<QueueObject> queue = Make(0);
  queue->Get(Request("s1 a", std::nullopt, 1));
  queue->Get(Request("s2", std::nullopt, 2));
  queue->Get(Request("s1 b", In(absl::Seconds(1)), 1));
  queue->EndSession(1);
  EXPECT_EQ(recorder_.names(), (Names{"s1 a", "s1 b"}));
  EXPECT_TRUE(Cancelled("s1 a"));
  EXPECT_TRUE(Cancelled("s1 b"));
  EXPECT_EQ(timers_.pending(), 0u);

  queue->Put(Request("put x"), "x");
  queue->Put(Request("put y"), "y");
  EXPECT_TRUE(Got("s2", "x"));
  EXPECT_EQ(queue->QSize(), 1);
  queue->Get(Request("next"));
  EXPECT_TRUE(Got("next", "y"));
}

TEST_F(QueueObjectTest, AGetterThatTimedOutNeverTakesAnItem) {
  std::unique_ptr<QueueObject> queue = Make(0);
  queue->Get(Request("timed", In(absl::Seconds(1))));
  timers_.Advance(absl::Seconds(1));
  queue->Put(Request("put x"), "x");
  EXPECT_TRUE(Failed("timed", ErrorKind::kEmpty));
  EXPECT_EQ(queue->QSize(), 1);
}

TEST_F(QueueObjectTest, ACancelledPutterNeverAddsItsItem) {
  std::unique_ptr<QueueObject> queue = Make(1, Kind::kJoinableQueue);
  queue->Put(Request("put a"), "a");
  const WaitId b = queue->Put(Request("put b", In(absl::Seconds(1))), "b");
  queue->Put(Request("put c", std::nullopt, 2), "c");
  queue->Put(Request("put d"), "d");
  queue->Cancel(b);
  queue->EndSession(2);
  EXPECT_TRUE(Cancelled("put b"));
  EXPECT_TRUE(Cancelled("put c"));
  EXPECT_EQ(queue->NPutters(), 1);
  EXPECT_EQ(timers_.pending(), 0u);

  queue->Get(Request("get 1"));
  queue->Get(Request("get 2"));
  EXPECT_TRUE(Got("get 1", "a"));
  EXPECT_TRUE(Got("get 2", "d"));
  EXPECT_TRUE(queue->Empty());
  // Only the two items accepted count as tasks.
  EXPECT_EQ(queue->UnfinishedTasks(), 2);
}

TEST_F(QueueObjectTest, TaskDoneAndJoin) {
  std::unique_ptr<QueueObject> queue = Make(0, Kind::kJoinableQueue);
  EXPECT_EQ(queue->Join(Request("join at once")), 0u);
  EXPECT_TRUE(Done("join at once"));
  EXPECT_TRUE(
      IsError(queue->TaskDone(), ErrorKind::kValueError, "task_done() called too many times"));

  queue->Put(Request("put a"), "a");
  queue->Put(Request("put b"), "b");
  EXPECT_EQ(queue->UnfinishedTasks(), 2);
  EXPECT_NE(queue->Join(Request("join 1")), 0u);
  EXPECT_NE(queue->Join(Request("join 2", In(absl::Seconds(10)), 2)), 0u);
  EXPECT_EQ(queue->NJoiners(), 2);

  queue->Get(Request("get a"));
  queue->Get(Request("get b"));
  // Taking the items does not finish the tasks.
  EXPECT_EQ(queue->UnfinishedTasks(), 2);
  EXPECT_EQ(queue->NJoiners(), 2);
  EXPECT_TRUE(IsOk(queue->TaskDone()));
  EXPECT_EQ(queue->NJoiners(), 2);
  EXPECT_TRUE(IsOk(queue->TaskDone()));
  EXPECT_EQ(queue->UnfinishedTasks(), 0);
  EXPECT_TRUE(Done("join 1"));
  EXPECT_TRUE(Done("join 2"));
  EXPECT_EQ(timers_.pending(), 0u);
  // One too many, and the count stays at zero.
  EXPECT_TRUE(
      IsError(queue->TaskDone(), ErrorKind::kValueError, "task_done() called too many times"));
  EXPECT_EQ(queue->UnfinishedTasks(), 0);
}

TEST_F(QueueObjectTest, JoinWithADeadlineCompletesWithFalse) {
  std::unique_ptr<QueueObject> queue = Make(0, Kind::kJoinableQueue);
  queue->Put(Request("put"), 1);
  EXPECT_EQ(queue->Join(NoWait("join now")), 0u);
  EXPECT_TRUE(Got("join now", false));
  queue->Join(Request("join timed", In(absl::Seconds(1))));
  timers_.Advance(absl::Seconds(1));
  const Outcome timed = recorder_.Of("join timed");
  EXPECT_TRUE(IsOk(timed.status));
  EXPECT_EQ(timed.value.type(), Value::Type::kBool);
  EXPECT_EQ(timed.value, Value(false));
  EXPECT_EQ(queue->NJoiners(), 0);
  EXPECT_TRUE(IsOk(queue->TaskDone()));
  EXPECT_EQ(recorder_.log().size(), 3u);
}

TEST_F(QueueObjectTest, JoinersCanBeCancelled) {
  std::unique_ptr<QueueObject> queue = Make(0, Kind::kJoinableQueue);
  queue->Put(Request("put"), 1);
  const WaitId join = queue->Join(Request("join 1"));
  queue->Join(Request("join 2", std::nullopt, 2));
  queue->Cancel(join);
  queue->EndSession(2);
  EXPECT_TRUE(Cancelled("join 1"));
  EXPECT_TRUE(Cancelled("join 2"));
  EXPECT_TRUE(IsOk(queue->TaskDone()));
  EXPECT_EQ(recorder_.log().size(), 3u);
}

TEST_F(QueueObjectTest, EveryAcceptedPutCountsATaskWhateverItsPath) {
  std::unique_ptr<QueueObject> queue = Make(1, Kind::kJoinableQueue);
  queue->Get(Request("parked getter"));
  queue->Put(Request("handed over"), 1);  // Straight to the getter.
  queue->Put(Request("stored"), 2);
  queue->Put(Request("parked putter"), 3);
  queue->Put(NoWait("refused"), 4);
  EXPECT_EQ(queue->UnfinishedTasks(), 2);
  queue->Get(Request("get"));  // Admits the parked putter's item.
  EXPECT_EQ(queue->UnfinishedTasks(), 3);
}

TEST_F(QueueObjectTest, ItemsAreChargedToTheBudget) {
  const Value small = "ab";
  const Value big = std::string(1000, 'x');
  MemoryBudget budget(3 * ApproxBytes(small));
  std::unique_ptr<QueueObject> queue = Make(0, Kind::kJoinableQueue, &budget);

  queue->Put(Request("put big"), big);
  EXPECT_TRUE(Failed("put big", ErrorKind::kLimitError));
  // A LimitError changes nothing: no item, no bytes, no task.
  EXPECT_EQ(queue->QSize(), 0);
  EXPECT_EQ(budget.used(), 0);
  EXPECT_EQ(queue->UnfinishedTasks(), 0);

  for (int i = 0; i < 3; ++i) queue->Put(Request("put " + std::to_string(i)), small);
  EXPECT_EQ(budget.used(), 3 * ApproxBytes(small));
  queue->Put(Request("put 3"), small);
  EXPECT_TRUE(Failed("put 3", ErrorKind::kLimitError));
  EXPECT_EQ(queue->QSize(), 3);

  queue->Get(Request("get"));
  EXPECT_EQ(budget.used(), 2 * ApproxBytes(small));
  queue.reset();
  EXPECT_EQ(budget.used(), 0);
}

TEST_F(QueueObjectTest, AnItemHandedToAGetterIsNotCharged) {
  MemoryBudget budget(1);
  std::unique_ptr<QueueObject> queue = Make(0, Kind::kQueue, &budget);
  queue->Get(Request("get"));
  queue->Put(Request("put"), "not stored, so not charged");
  EXPECT_TRUE(Got("get", "not stored, so not charged"));
  EXPECT_EQ(budget.used(), 0);
}

TEST_F(QueueObjectTest, AParkedPutterThatNoLongerFitsFailsAndTheNextIsAdmitted) {
  const Value small = 1;
  const Value big = std::string(1000, 'x');
  MemoryBudget budget(2 * ApproxBytes(small));
  std::unique_ptr<QueueObject> queue = Make(1, Kind::kQueue, &budget);
  queue->Put(Request("put 1"), small);
  queue->Put(Request("put big"), big);  // Parked: counted only when admitted.
  queue->Put(Request("put 2"), 2);
  EXPECT_EQ(queue->NPutters(), 2);
  EXPECT_EQ(budget.used(), ApproxBytes(small));

  queue->Get(Request("get 1"));
  EXPECT_TRUE(Got("get 1", 1));
  EXPECT_TRUE(Failed("put big", ErrorKind::kLimitError));
  EXPECT_TRUE(Done("put 2"));
  EXPECT_EQ(queue->QSize(), 1);
  EXPECT_EQ(budget.used(), ApproxBytes(Value(2)));
}

TEST_F(QueueObjectTest, ForEachRefVisitsTheItemsOfAQueueOnWhichNothingParked) {
  std::unique_ptr<QueueObject> queue = Make(0);
  queue->Put(Request("put"), Value(ObjectRef{5, Kind::kList, nullptr}));
  std::vector<uint64_t> ids;
  queue->ForEachRef([&](const ObjectRef& ref) { ids.push_back(ref.id); });
  EXPECT_EQ(ids, (std::vector<uint64_t>{5}));
}

TEST_F(QueueObjectTest, ForEachRefVisitsQueuedAndParkedItems) {
  std::unique_ptr<QueueObject> queue = Make(1);
  EXPECT_FALSE(queue->may_hold_refs());
  queue->Put(Request("put 1"), Value::list({ObjectRef{7, Kind::kList, nullptr}}));
  queue->Put(Request("put 2"), Value(ObjectRef{9, Kind::kDict, nullptr}));  // Parked.
  EXPECT_TRUE(queue->may_hold_refs());
  std::vector<uint64_t> ids;
  queue->ForEachRef([&](const ObjectRef& ref) { ids.push_back(ref.id); });
  EXPECT_EQ(ids, (std::vector<uint64_t>{7, 9}));
}

TEST_F(QueueObjectTest, ACompletionMayCallBackIntoTheQueue) {
  // Completions run once the mutex is released: a getter that gets again
  // from inside its completion does not deadlock.
  std::unique_ptr<QueueObject> queue = Make(0);
  std::vector<Value> got;
  queue->Get(WaitRequest{Caller{1}, std::nullopt, [&](Outcome first) {
                           got.push_back(first.value);
                           queue->Get(WaitRequest{Caller{1}, std::nullopt,
                                                  [&](Outcome o) { got.push_back(o.value); }});
                         }});
  queue->Put(Request("put a"), "a");
  EXPECT_EQ(got, (std::vector<Value>{"a"}));
  EXPECT_EQ(queue->NGetters(), 1);
  queue->Put(Request("put b"), "b");
  EXPECT_EQ(got, (std::vector<Value>{"a", "b"}));
  queue->Put(Request("put c"), "c");
  EXPECT_EQ(queue->QSize(), 1);
}

TEST_F(QueueObjectTest, DestroyingCancelsTimersAndAnswersWaiters) {
  std::unique_ptr<QueueObject> full = Make(1, Kind::kJoinableQueue);
  full->Put(Request("put"), 1);
  full->Put(Request("putter", In(absl::Seconds(1))), 2);
  full->Join(Request("joiner", In(absl::Seconds(1))));
  std::unique_ptr<QueueObject> empty = Make(1);
  empty->Get(Request("getter", In(absl::Seconds(1))));
  full.reset();
  empty.reset();
  EXPECT_EQ(timers_.pending(), 0u);
  EXPECT_TRUE(Cancelled("putter"));
  EXPECT_TRUE(Cancelled("joiner"));
  EXPECT_TRUE(Cancelled("getter"));
}

// 4 producers put 1000 items each into a small queue, waiting for each put to
// complete; 4 consumers take items through completions until each gets the
// sentinel. Every item arrives exactly once.
TEST_F(QueueObjectTest, ProducersAndConsumersExchangeEveryItemExactlyOnce) {
  constexpr int kProducers = 4;
  constexpr int kConsumers = 4;
  constexpr int kItems = 1000;
  constexpr int64_t kSentinel = -1;
  std::unique_ptr<QueueObject> queue = Make(16, Kind::kJoinableQueue);

  auto put = [&](SessionId session, int64_t item) {
    auto [done, outcome] = Promised();
    queue->Put(WaitRequest{Caller{session}, std::nullopt, std::move(done)}, item);
    const Outcome result = outcome.get();
    EXPECT_TRUE(IsOk(result.status));
  };

  std::vector<std::vector<int64_t>> received(kConsumers);
  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&, c] {
      for (;;) {
        auto [done, outcome] = Promised();
        queue->Get(
            WaitRequest{Caller{static_cast<SessionId>(100 + c)}, std::nullopt, std::move(done)});
        const Outcome result = outcome.get();
        if (!result.status.ok()) {
          ADD_FAILURE() << result.status;
          return;
        }
        const int64_t item = result.value.as_int();
        EXPECT_TRUE(IsOk(queue->TaskDone()));
        if (item == kSentinel) return;
        received[c].push_back(item);
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kItems; ++i) put(static_cast<SessionId>(1 + p), p * kItems + i);
    });
  }
  for (std::thread& producer : producers) producer.join();
  // FIFO: the sentinels come after every item, one for each consumer.
  for (int c = 0; c < kConsumers; ++c) put(99, kSentinel);
  for (std::thread& consumer : consumers) consumer.join();

  std::vector<int64_t> all;
  for (const std::vector<int64_t>& items : received) {
    all.insert(all.end(), items.begin(), items.end());
  }
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), static_cast<size_t>(kProducers * kItems));
  for (int i = 0; i < kProducers * kItems; ++i) ASSERT_EQ(all[i], i);
  // Each producer's items arrive in the order it put them, whoever takes them.
  for (const std::vector<int64_t>& items : received) {
    std::vector<int64_t> last(kProducers, -1);
    for (int64_t item : items) {
      EXPECT_GT(item, last[item / kItems]);
      last[item / kItems] = item;
    }
  }
  EXPECT_TRUE(queue->Empty());
  EXPECT_EQ(queue->NGetters(), 0);
  EXPECT_EQ(queue->NPutters(), 0);
  EXPECT_EQ(queue->UnfinishedTasks(), 0);
}

// Getters parked with deadlines race against the timer, Cancel and Put on
// three threads. Whatever wins, each getter completes exactly once, and each
// item goes to exactly one getter or stays in the queue.
TEST_F(QueueObjectTest, ParkedGettersRacingTimersCancelAndPutLoseNoItem) {
  constexpr int kGetters = 300;
  for (int round = 0; round < 5; ++round) {
    std::unique_ptr<QueueObject> queue = Make(0);
    std::mutex mu;
    std::vector<int> completions(kGetters, 0);
    std::vector<int64_t> got;
    std::vector<WaitId> ids;
    for (int g = 0; g < kGetters; ++g) {
      // Every other getter has a deadline within the advance below.
      std::optional<absl::Time> deadline;
      if (g % 2 == 0) deadline = In(absl::Milliseconds(1 + g));
      ids.push_back(queue->Get(WaitRequest{Caller{1}, deadline, [&, g](Outcome outcome) {
                                             std::lock_guard<std::mutex> lock(mu);
                                             ++completions[g];
                                             if (outcome.status.ok()) {
                                               got.push_back(outcome.value.as_int());
                                             }
                                           }}));
    }
    std::thread timer([&] { timers_.Advance(absl::Seconds(1)); });
    std::thread canceller([&] {
      for (int g = 1; g < kGetters; g += 4) queue->Cancel(ids[g]);
    });
    std::thread putter([&] {
      for (int i = 0; i < kGetters; ++i) queue->Put(Request("put"), i);
    });
    timer.join();
    canceller.join();
    putter.join();
    // Whatever is still parked goes with its session.
    queue->EndSession(1);

    for (int g = 0; g < kGetters; ++g) ASSERT_EQ(completions[g], 1) << "getter " << g;
    std::vector<int64_t> items = got;
    while (!queue->Empty()) {
      auto [done, outcome] = Promised();
      queue->Get(WaitRequest{Caller{2}, timers_.Now(), std::move(done)});
      items.push_back(outcome.get().value.as_int());
    }
    std::sort(items.begin(), items.end());
    ASSERT_EQ(items.size(), static_cast<size_t>(kGetters)) << "round " << round;
    for (int i = 0; i < kGetters; ++i) ASSERT_EQ(items[i], i);
    EXPECT_EQ(timers_.pending(), 0u);
  }
}

TEST_F(QueueObjectTest, HeldHasNoHoldersAndCountsGettersPuttersAndJoinersPerSession) {
  using ::testing::IsEmpty;
  using ::testing::Pair;
  using ::testing::UnorderedElementsAre;
  std::unique_ptr<QueueObject> getters = Make(1);
  getters->Get(Request("g1", std::nullopt, 1));
  getters->Get(Request("g2", std::nullopt, 2));
  getters->Get(Request("g3", std::nullopt, 1));
  Holdings holdings = getters->Held();
  EXPECT_THAT(holdings.held, IsEmpty());
  EXPECT_THAT(holdings.waiting, UnorderedElementsAre(Pair(1u, 2), Pair(2u, 1)));
  getters->Put(Request("p", std::nullopt, 3), 1);  // Goes to g1.
  EXPECT_THAT(getters->Held().waiting, UnorderedElementsAre(Pair(1u, 1), Pair(2u, 1)));

  std::unique_ptr<QueueObject> queue = Make(1);
  EXPECT_THAT(queue->Held().waiting, IsEmpty());
  queue->Put(Request("p1", std::nullopt, 1), 1);
  queue->Put(Request("p2", std::nullopt, 1), 2);
  queue->Put(Request("p3", std::nullopt, 2), 3);
  queue->Join(Request("j1", std::nullopt, 1));
  queue->Join(Request("j2", std::nullopt, 3));
  holdings = queue->Held();
  EXPECT_THAT(holdings.held, IsEmpty());
  EXPECT_THAT(holdings.waiting, UnorderedElementsAre(Pair(1u, 2), Pair(2u, 1), Pair(3u, 1)));
  queue->EndSession(1);
  EXPECT_THAT(queue->Held().waiting, UnorderedElementsAre(Pair(2u, 1), Pair(3u, 1)));
}

// The lists of parked calls are made when the first call parks: a queue on
// which none ever parked answers every question about them, and ends, as one
// whose calls have all gone.
TEST_F(QueueObjectTest, AQueueOnWhichNothingParkedBehavesAsOneWhoseWaitersAllWent) {
  using ::testing::IsEmpty;
  std::unique_ptr<QueueObject> queue = Make(1, Kind::kJoinableQueue);
  queue->Put(Request("put"), 1);
  EXPECT_TRUE(Done("put"));
  queue->Get(Request("get"));
  EXPECT_TRUE(Got("get", 1));
  queue->Put(Request("put 2"), 2);
  EXPECT_TRUE(Done("put 2"));
  queue->Put(NoWait("put 3"), 3);
  EXPECT_TRUE(Failed("put 3", ErrorKind::kFull));
  EXPECT_EQ(queue->NGetters(), 0);
  EXPECT_EQ(queue->NPutters(), 0);
  EXPECT_EQ(queue->NJoiners(), 0);
  EXPECT_THAT(queue->Held().waiting, IsEmpty());
  queue->Cancel(12345);
  queue->EndSession(1);
  ASSERT_TRUE(IsOk(queue->TaskDone()));
  ASSERT_TRUE(IsOk(queue->TaskDone()));
  queue->Join(Request("join"));
  EXPECT_TRUE(Done("join"));
  queue->Shutdown(/*immediate=*/true);
  EXPECT_EQ(queue->QSize(), 0);
  queue->Get(Request("get after shutdown"));
  EXPECT_TRUE(Failed("get after shutdown", ErrorKind::kShutDown));
  // Every call completed once, at once; destroying the queue completes none.
  EXPECT_EQ(recorder_.size(), 6u);
  queue.reset();
  EXPECT_EQ(recorder_.size(), 6u);
}

TEST_F(QueueObjectTest, AfterShutdownAPutFailsBeforeAnyOtherCheck) {
  std::unique_ptr<QueueObject> queue = Make(1);
  EXPECT_FALSE(queue->IsShutdown());
  queue->Put(Request("put a"), "a");
  queue->Shutdown(/*immediate=*/false);
  EXPECT_TRUE(queue->IsShutdown());
  EXPECT_EQ(queue->Repr(), "<Queue 1 items, maxsize=1, shutdown>");
  // Full, and put_nowait: ShutDown all the same, as Python checks it first.
  EXPECT_EQ(queue->Put(NoWait("put b"), "b"), 0u);
  EXPECT_EQ(queue->Put(Request("put c"), "c"), 0u);
  EXPECT_TRUE(IsError(recorder_.Of("put b").status, ErrorKind::kShutDown, ""));
  EXPECT_TRUE(Failed("put c", ErrorKind::kShutDown));
  EXPECT_EQ(queue->QSize(), 1);
  EXPECT_EQ(queue->UnfinishedTasks(), 1);
  EXPECT_EQ(queue->NPutters(), 0);
}

TEST_F(QueueObjectTest, AfterShutdownGetsDrainTheQueueThenFail) {
  std::unique_ptr<QueueObject> queue = Make(0, Kind::kJoinableQueue);
  queue->Put(Request("put a"), "a");
  queue->Put(Request("put b"), "b");
  queue->Shutdown(/*immediate=*/false);
  queue->Get(NoWait("get 1"));
  queue->Get(Request("get 2"));
  EXPECT_TRUE(Got("get 1", "a"));
  EXPECT_TRUE(Got("get 2", "b"));
  // Empty now: get_nowait, a timed get and a blocking get all fail with
  // ShutDown at once, not Empty, and none parks.
  EXPECT_EQ(queue->Get(NoWait("get 3")), 0u);
  EXPECT_EQ(queue->Get(Request("get 4", In(absl::Seconds(1)))), 0u);
  EXPECT_EQ(queue->Get(Request("get 5")), 0u);
  EXPECT_TRUE(Failed("get 3", ErrorKind::kShutDown));
  EXPECT_TRUE(Failed("get 4", ErrorKind::kShutDown));
  EXPECT_TRUE(Failed("get 5", ErrorKind::kShutDown));
  EXPECT_EQ(queue->NGetters(), 0);
  EXPECT_EQ(timers_.pending(), 0u);
  // Tasks are still counted and joined as before.
  EXPECT_EQ(queue->UnfinishedTasks(), 2);
  EXPECT_TRUE(IsOk(queue->TaskDone()));
  EXPECT_TRUE(IsOk(queue->TaskDone()));
  EXPECT_EQ(queue->Join(Request("join")), 0u);
  EXPECT_TRUE(Done("join"));
}

TEST_F(QueueObjectTest, ShutdownWakesParkedGettersAndPuttersWithShutDown) {
  std::unique_ptr<QueueObject> empty = Make(1);
  EXPECT_NE(empty->Get(Request("g1")), 0u);
  EXPECT_NE(empty->Get(Request("g2", In(absl::Seconds(5)), /*session=*/2)), 0u);
  std::unique_ptr<QueueObject> full = Make(1);
  full->Put(Request("p0"), "kept");
  EXPECT_NE(full->Put(Request("p1"), "dropped 1"), 0u);
  EXPECT_NE(full->Put(Request("p2", In(absl::Seconds(5))), "dropped 2"), 0u);
  EXPECT_EQ(timers_.pending(), 2u);

  empty->Shutdown(/*immediate=*/false);
  EXPECT_TRUE(Failed("g1", ErrorKind::kShutDown));
  EXPECT_TRUE(Failed("g2", ErrorKind::kShutDown));
  EXPECT_EQ(empty->NGetters(), 0);
  full->Shutdown(/*immediate=*/false);
  EXPECT_TRUE(Failed("p1", ErrorKind::kShutDown));
  EXPECT_TRUE(Failed("p2", ErrorKind::kShutDown));
  EXPECT_EQ(full->NPutters(), 0);
  EXPECT_EQ(timers_.pending(), 0u);
  // The waiting putters' items were never added; the one in the queue stays.
  EXPECT_EQ(full->QSize(), 1);
  EXPECT_EQ(full->UnfinishedTasks(), 1);
  full->Get(Request("get"));
  EXPECT_TRUE(Got("get", "kept"));
  timers_.Advance(absl::Seconds(10));
  EXPECT_EQ(recorder_.size(), 6u);  // each completed once
}

TEST_F(QueueObjectTest, ImmediateShutdownDropsTheItemsAndCountsThemDone) {
  for (Kind kind : {Kind::kQueue, Kind::kJoinableQueue}) {
    SCOPED_TRACE(KindName(kind));
    recorder_.Clear();
    const Value item = Value::list({1, "a"});
    MemoryBudget budget(1 << 20);
    std::unique_ptr<QueueObject> queue = Make(0, kind, &budget);
    for (int i = 0; i < 3; ++i) queue->Put(Request("put " + std::to_string(i)), item);
    queue->Get(Request("taken"));  // being processed: not done yet
    EXPECT_TRUE(Got("taken", item));
    EXPECT_EQ(queue->UnfinishedTasks(), 3);
    EXPECT_NE(queue->Join(Request("join")), 0u);
    EXPECT_GT(budget.used(), 0);

    queue->Shutdown(/*immediate=*/true);
    EXPECT_EQ(queue->QSize(), 0);
    EXPECT_EQ(budget.used(), 0);
    // The two dropped items count as done; the one taken keeps join waiting.
    EXPECT_EQ(queue->UnfinishedTasks(), 1);
    EXPECT_EQ(queue->NJoiners(), 1);
    queue->Get(Request("after"));
    EXPECT_TRUE(Failed("after", ErrorKind::kShutDown));
    EXPECT_TRUE(IsOk(queue->TaskDone()));
    EXPECT_TRUE(Done("join"));
    EXPECT_TRUE(IsKind(queue->TaskDone(), ErrorKind::kValueError));
  }
}

TEST_F(QueueObjectTest, ImmediateShutdownReleasesJoinersWaitingForTheDroppedItemsAlone) {
  std::unique_ptr<QueueObject> queue = Make(0, Kind::kJoinableQueue);
  queue->Put(Request("put a"), "a");
  queue->Put(Request("put b"), "b");
  EXPECT_NE(queue->Join(Request("join 1")), 0u);
  EXPECT_NE(queue->Join(Request("join 2", In(absl::Seconds(5)))), 0u);
  // A shutdown that is not immediate leaves the items, and the joiners.
  queue->Shutdown(/*immediate=*/false);
  EXPECT_EQ(queue->NJoiners(), 2);
  EXPECT_EQ(queue->QSize(), 2);
  // Shut down again, immediately: the items go, and so do the joiners.
  queue->Shutdown(/*immediate=*/true);
  EXPECT_TRUE(Done("join 1"));
  EXPECT_TRUE(Done("join 2"));
  EXPECT_EQ(queue->UnfinishedTasks(), 0);
  EXPECT_EQ(timers_.pending(), 0u);
  EXPECT_EQ(queue->Join(Request("join 3")), 0u);
  EXPECT_TRUE(Done("join 3"));
}

}  // namespace
}  // namespace shoal::server
