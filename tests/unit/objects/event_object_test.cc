#include "server/objects/event_object.h"

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/objects/manual_timers.h"
#include "tests/unit/objects/recorder.h"
#include "tests/unit/objects/test_util.h"

namespace shoal::server {
namespace {

using ::shoal::server::testing::ManualTimers;
using ::shoal::server::testing::Recorder;

using Names = std::vector<std::string>;

class EventObjectTest : public ::testing::Test {
 protected:
  WaitRequest Request(std::string name, std::optional<absl::Time> deadline = std::nullopt,
                      SessionId session = 1) {
    return WaitRequest{Caller{session}, deadline, recorder_.Track(std::move(name))};
  }
  absl::Time In(absl::Duration d) { return timers_.Now() + d; }

  ManualTimers timers_;
  Recorder recorder_;
  std::unique_ptr<EventObject> event_ = std::make_unique<EventObject>(&timers_);
};

TEST_F(EventObjectTest, StartsUnset) {
  EXPECT_EQ(event_->kind(), Kind::kEvent);
  EXPECT_FALSE(event_->IsSet());
  EXPECT_EQ(event_->NWaiting(), 0);
  EXPECT_EQ(event_->Size(), 0);
  EXPECT_EQ(event_->Repr(), "<Event unset, 0 waiting>");
}

TEST_F(EventObjectTest, SetAndClearMoveTheFlag) {
  event_->Set();
  EXPECT_TRUE(event_->IsSet());
  EXPECT_EQ(event_->Repr(), "<Event set>");
  event_->Set();
  EXPECT_TRUE(event_->IsSet());
  event_->Clear();
  EXPECT_FALSE(event_->IsSet());
  event_->Clear();
  EXPECT_FALSE(event_->IsSet());
}

TEST_F(EventObjectTest, WaitOnASetEventIsTrueAtOnce) {
  event_->Set();
  EXPECT_EQ(event_->Wait(Request("a")), 0u);
  EXPECT_EQ(event_->Wait(Request("b", In(absl::Seconds(1)))), 0u);
  std::vector<Recorder::Entry> log = recorder_.log();
  ASSERT_EQ(log.size(), 2u);
  for (const Recorder::Entry& entry : log) {
    EXPECT_TRUE(entry.outcome.status.ok());
    EXPECT_EQ(entry.outcome.value.type(), Value::Type::kBool);
    EXPECT_EQ(entry.outcome.value, Value(true));
  }
  EXPECT_EQ(timers_.pending(), 0u);
}

TEST_F(EventObjectTest, SetCompletesEveryParkedWaiterWithTrueInOrder) {
  const WaitId a = event_->Wait(Request("a"));
  const WaitId b = event_->Wait(Request("b", In(absl::Seconds(5))));
  const WaitId c = event_->Wait(Request("c", std::nullopt, 2));
  EXPECT_NE(a, 0u);
  EXPECT_NE(b, 0u);
  EXPECT_NE(c, 0u);
  EXPECT_NE(a, b);
  EXPECT_NE(b, c);
  EXPECT_TRUE(recorder_.log().empty());
  EXPECT_EQ(event_->NWaiting(), 3);
  EXPECT_EQ(event_->Repr(), "<Event unset, 3 waiting>");

  event_->Set();
  EXPECT_EQ(recorder_.names(), (Names{"a", "b", "c"}));
  for (const Recorder::Entry& entry : recorder_.log()) {
    EXPECT_TRUE(entry.outcome.status.ok());
    EXPECT_EQ(entry.outcome.value, Value(true));
  }
  EXPECT_EQ(event_->NWaiting(), 0);
  // b's timer went with it: nothing completes b a second time.
  EXPECT_EQ(timers_.pending(), 0u);
  timers_.Advance(absl::Seconds(10));
  event_->Cancel(a);
  event_->EndSession(1);
  EXPECT_EQ(recorder_.log().size(), 3u);
}

TEST_F(EventObjectTest, WaitAfterClearParksAgain) {
  event_->Set();
  event_->Clear();
  EXPECT_NE(event_->Wait(Request("a")), 0u);
  EXPECT_TRUE(recorder_.log().empty());
  event_->Set();
  EXPECT_EQ(recorder_.names(), (Names{"a"}));
}

TEST_F(EventObjectTest, ClearDoesNotReleaseWaiters) {
  event_->Wait(Request("a"));
  event_->Clear();
  EXPECT_TRUE(recorder_.log().empty());
  EXPECT_EQ(event_->NWaiting(), 1);
}

TEST_F(EventObjectTest, DeadlineCompletesWithFalse) {
  const WaitId a = event_->Wait(Request("a", In(absl::Seconds(1))));
  EXPECT_NE(a, 0u);
  EXPECT_EQ(timers_.pending(), 1u);
  timers_.Advance(absl::Milliseconds(999));
  EXPECT_TRUE(recorder_.log().empty());
  timers_.Advance(absl::Milliseconds(1));
  std::vector<Recorder::Entry> log = recorder_.log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_TRUE(log[0].outcome.status.ok());
  EXPECT_EQ(log[0].outcome.value.type(), Value::Type::kBool);
  EXPECT_EQ(log[0].outcome.value, Value(false));
  EXPECT_EQ(event_->NWaiting(), 0);

  // Completed once: a later Set or Cancel does not reach it.
  event_->Set();
  event_->Cancel(a);
  EXPECT_EQ(recorder_.log().size(), 1u);
}

TEST_F(EventObjectTest, DeadlinesFireInTheirOwnOrder) {
  event_->Wait(Request("late", In(absl::Seconds(3))));
  event_->Wait(Request("early", In(absl::Seconds(1))));
  event_->Wait(Request("never"));
  timers_.Advance(absl::Seconds(5));
  EXPECT_EQ(recorder_.names(), (Names{"early", "late"}));
  event_->Set();
  EXPECT_EQ(recorder_.names(), (Names{"early", "late", "never"}));
}

TEST_F(EventObjectTest, DeadlineAtOrBeforeNowDoesNotWait) {
  EXPECT_EQ(event_->Wait(Request("now", timers_.Now())), 0u);
  EXPECT_EQ(event_->Wait(Request("past", In(-absl::Seconds(1)))), 0u);
  EXPECT_EQ(event_->Wait(Request("infinite past", absl::InfinitePast())), 0u);
  EXPECT_EQ(recorder_.names(), (Names{"now", "past", "infinite past"}));
  for (const Recorder::Entry& entry : recorder_.log()) {
    EXPECT_EQ(entry.outcome.value, Value(false));
  }
  EXPECT_EQ(event_->NWaiting(), 0);
  EXPECT_EQ(timers_.pending(), 0u);
}

TEST_F(EventObjectTest, InfiniteDeadlineWaitsWithoutATimer) {
  EXPECT_NE(event_->Wait(Request("a", absl::InfiniteFuture())), 0u);
  EXPECT_EQ(timers_.pending(), 0u);
  event_->Set();
  EXPECT_EQ(recorder_.names(), (Names{"a"}));
}

TEST_F(EventObjectTest, CancelCompletesWithCancelledOnce) {
  const WaitId a = event_->Wait(Request("a", In(absl::Seconds(1))));
  event_->Wait(Request("b"));
  event_->Cancel(a);
  std::vector<Recorder::Entry> log = recorder_.log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].name, "a");
  EXPECT_EQ(log[0].outcome.status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(timers_.pending(), 0u);

  event_->Cancel(a);
  event_->Cancel(0);
  event_->Cancel(12345);
  timers_.Advance(absl::Seconds(2));
  event_->Set();
  EXPECT_EQ(recorder_.names(), (Names{"a", "b"}));
}

TEST_F(EventObjectTest, EndSessionCancelsOnlyThatSessionsWaiters) {
  event_->Wait(Request("s1 a", std::nullopt, 1));
  event_->Wait(Request("s2", In(absl::Seconds(1)), 2));
  event_->Wait(Request("s1 b", In(absl::Seconds(1)), 1));
  event_->EndSession(1);
  EXPECT_EQ(recorder_.names(), (Names{"s1 a", "s1 b"}));
  for (const Recorder::Entry& entry : recorder_.log()) {
    EXPECT_EQ(entry.outcome.status.code(), absl::StatusCode::kCancelled);
  }
  EXPECT_EQ(event_->NWaiting(), 1);
  EXPECT_EQ(timers_.pending(), 1u);
  event_->EndSession(3);
  event_->Set();
  EXPECT_EQ(recorder_.names(), (Names{"s1 a", "s1 b", "s2"}));
}

TEST_F(EventObjectTest, ACompletionMayCallBackIntoTheEvent) {
  // Completions run once the mutex is released: waiting again from inside
  // one does not deadlock.
  std::vector<Outcome> again;
  event_->Wait(WaitRequest{
      Caller{1}, std::nullopt, [&](Outcome) {
        event_->Wait(WaitRequest{Caller{1}, std::nullopt, [&](Outcome o) { again.push_back(o); }});
      }});
  event_->Set();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].value, Value(true));
}

TEST_F(EventObjectTest, DestroyingCancelsTimersAndAnswersWaiters) {
  event_->Wait(Request("a", In(absl::Seconds(1))));
  event_->Wait(Request("b"));
  event_.reset();
  EXPECT_EQ(timers_.pending(), 0u);
  EXPECT_EQ(recorder_.names(), (Names{"a", "b"}));
  for (const Recorder::Entry& entry : recorder_.log()) {
    EXPECT_EQ(entry.outcome.status.code(), absl::StatusCode::kCancelled);
  }
}

TEST_F(EventObjectTest, HeldHasNoHoldersAndCountsTheWaitersPerSession) {
  using ::testing::IsEmpty;
  using ::testing::Pair;
  using ::testing::UnorderedElementsAre;
  EXPECT_THAT(event_->Held().waiting, IsEmpty());
  event_->Wait(Request("a", std::nullopt, 1));
  event_->Wait(Request("b", In(absl::Seconds(1)), 2));
  event_->Wait(Request("c", std::nullopt, 2));
  Holdings holdings = event_->Held();
  EXPECT_THAT(holdings.held, IsEmpty());
  EXPECT_THAT(holdings.waiting, UnorderedElementsAre(Pair(1u, 1), Pair(2u, 2)));
  timers_.Advance(absl::Seconds(1));
  EXPECT_THAT(event_->Held().waiting, UnorderedElementsAre(Pair(1u, 1), Pair(2u, 1)));
  event_->Set();
  holdings = event_->Held();
  EXPECT_THAT(holdings.held, IsEmpty());
  EXPECT_THAT(holdings.waiting, IsEmpty());
}

}  // namespace
}  // namespace shoal::server
