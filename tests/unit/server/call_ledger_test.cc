#include "server/core/call_ledger.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

// A stream that records what reaches it.
class RecordingSink : public ReplySink {
 public:
  void Deliver(uint64_t call_id, const absl::Status& status,
               const std::string& response) override {
    delivered.push_back({call_id, status.ok() ? response : std::string(status.message())});
  }
  void Overflowed(const absl::Status& why) override { overflow = std::string(why.message()); }
  void Moved(uint64_t call_id) override { moved.push_back(call_id); }

  std::vector<std::pair<uint64_t, std::string>> delivered;
  std::string overflow;
  std::vector<uint64_t> moved;
};

using Arrival = CallLedger::Arrival;

TEST(CallLedger, ACallSentAgainAfterItsReplyWasLostIsAnsweredFromWhatWasKept) {
  CallLedger ledger(/*keeps_replies=*/true, CallLedger::Limits());
  RecordingSink first;
  const uint64_t one = ledger.Attach(&first);
  absl::Status status;
  std::string response;
  ASSERT_EQ(ledger.Arrive(7, one, &status, &response), Arrival::kNew);
  ledger.Detach(one);
  ledger.Complete(7, absl::OkStatus(), "forty-two");
  EXPECT_TRUE(first.delivered.empty());

  RecordingSink second;
  const uint64_t two = ledger.Attach(&second);
  ASSERT_EQ(ledger.Arrive(7, two, &status, &response), Arrival::kAnswered);
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(response, "forty-two");
  ledger.Ack({7});
  EXPECT_EQ(ledger.kept(), 0u);
}

// A frame's calls arrive together: each is what Arrive would say of it, in
// turn, and the answered ones come with their kept replies, in order.
TEST(CallLedger, AFramesCallsArriveTogetherAsOneByOne) {
  CallLedger ledger(/*keeps_replies=*/true, CallLedger::Limits());
  RecordingSink first;
  const uint64_t one = ledger.Attach(&first);
  absl::Status status;
  std::string response;
  ASSERT_EQ(ledger.Arrive(1, one, &status, &response), Arrival::kNew);
  ASSERT_EQ(ledger.Arrive(2, one, &status, &response), Arrival::kNew);
  ASSERT_EQ(ledger.Arrive(3, one, &status, &response), Arrival::kNew);
  ASSERT_EQ(ledger.Arrive(4, one, &status, &response), Arrival::kNew);
  ledger.Complete(1, absl::OkStatus(), "one");
  ledger.Complete(3, absl::NotFoundError("three"), "");
  ledger.Detach(one);

  RecordingSink second;
  const uint64_t two = ledger.Attach(&second);
  CallLedger::Arrivals arrivals;
  std::vector<CallLedger::Answer> answers;
  // 1 and 3 answered, 2 in flight (its reply now comes to two), 5 new, and
  // 5 again in the same frame: a duplicate.
  ledger.ArriveAll({}, {1, 2, 3, 5, 5}, two, &arrivals, &answers);
  EXPECT_EQ(std::vector<Arrival>(arrivals.begin(), arrivals.end()),
            (std::vector<Arrival>{Arrival::kAnswered, Arrival::kInFlight, Arrival::kAnswered,
                                  Arrival::kNew, Arrival::kDuplicate}));
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_TRUE(answers[0].status.ok());
  EXPECT_EQ(answers[0].response, "one");
  EXPECT_EQ(answers[1].status.code(), absl::StatusCode::kNotFound);
  ledger.Complete(2, absl::OkStatus(), "two");
  EXPECT_EQ(second.delivered, (std::vector<std::pair<uint64_t, std::string>>{{2, "two"}}));
}

TEST(CallLedger, AFramesAcknowledgementsAreTakenBeforeItsCalls) {
  CallLedger ledger(/*keeps_replies=*/true, CallLedger::Limits());
  RecordingSink sink;
  const uint64_t stream = ledger.Attach(&sink);
  absl::Status status;
  std::string response;
  for (uint64_t call_id : {1, 2, 3}) {
    ASSERT_EQ(ledger.Arrive(call_id, stream, &status, &response), Arrival::kNew);
    ledger.Complete(call_id, absl::OkStatus(), absl::StrCat("reply ", call_id));
  }
  ASSERT_EQ(ledger.kept(), 3u);
  CallLedger::Arrivals arrivals;
  std::vector<CallLedger::Answer> answers;
  // 1 and 2 acknowledged; 3, unacknowledged, is sent again with a new call.
  ledger.ArriveAll({1, 2}, {3, 4}, stream, &arrivals, &answers);
  EXPECT_EQ(std::vector<Arrival>(arrivals.begin(), arrivals.end()),
            (std::vector<Arrival>{Arrival::kAnswered, Arrival::kNew}));
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].response, "reply 3");
  EXPECT_EQ(ledger.kept(), 1u);
}

// Records how replies arrive together.
class BatchRecordingSink : public RecordingSink {
 public:
  void DeliverAll(absl::Span<const Delivery> replies) override {
    batches.push_back(replies.size());
    RecordingSink::DeliverAll(replies);
  }
  std::vector<size_t> batches;
};

TEST(CallLedger, CallsCompletedTogetherReachEachStreamTogetherAndAreKept) {
  CallLedger ledger(/*keeps_replies=*/true, CallLedger::Limits());
  BatchRecordingSink first;
  BatchRecordingSink second;
  const uint64_t one = ledger.Attach(&first);
  const uint64_t two = ledger.Attach(&second);
  absl::Status status;
  std::string response;
  for (uint64_t id : {1, 2, 3}) ASSERT_EQ(ledger.Arrive(id, one, &status, &response), Arrival::kNew);
  ASSERT_EQ(ledger.Arrive(4, two, &status, &response), Arrival::kNew);
  bool cancel_dropped = false;
  struct SetOnDestruction {
    bool* set;
    ~SetOnDestruction() { *set = true; }
  };
  absl::AnyInvocable<void()> cancel =
      [flag = std::shared_ptr<SetOnDestruction>(new SetOnDestruction{&cancel_dropped})] {};
  ASSERT_TRUE(ledger.Park(2, cancel));
  EXPECT_FALSE(cancel_dropped);
  std::vector<CallLedger::Completion> done;
  done.push_back({1, absl::OkStatus(), "one"});
  done.push_back({2, absl::OkStatus(), "two"});
  done.push_back({9, absl::OkStatus(), "not a call in flight"});
  done.push_back({4, absl::InvalidArgumentError("four"), ""});
  done.push_back({3, absl::OkStatus(), "three"});
  ledger.CompleteAll(absl::MakeSpan(done));
  // 1 and 2 together, then 4 on the other stream, then 3.
  EXPECT_EQ(first.batches, (std::vector<size_t>{2, 1}));
  EXPECT_EQ(second.batches, (std::vector<size_t>{1}));
  EXPECT_EQ(first.delivered, (std::vector<std::pair<uint64_t, std::string>>{
                                 {1, "one"}, {2, "two"}, {3, "three"}}));
  EXPECT_EQ(second.delivered, (std::vector<std::pair<uint64_t, std::string>>{{4, "four"}}));
  EXPECT_TRUE(cancel_dropped);
  // Kept until acknowledged, as Complete keeps them.
  EXPECT_EQ(ledger.kept(), 4u);
  ASSERT_EQ(ledger.Arrive(2, two, &status, &response), Arrival::kAnswered);
  EXPECT_EQ(response, "two");
  ledger.Ack({1, 2, 3, 4});
  EXPECT_EQ(ledger.kept(), 0u);
}

TEST(CallLedger, ACallSentAgainWhileParkedGetsItsReplyOnTheNewStream) {
  CallLedger ledger(/*keeps_replies=*/true, CallLedger::Limits());
  RecordingSink first;
  RecordingSink second;
  const uint64_t one = ledger.Attach(&first);
  absl::Status status;
  std::string response;
  ASSERT_EQ(ledger.Arrive(3, one, &status, &response), Arrival::kNew);
  bool cancelled = false;
  absl::AnyInvocable<void()> cancel = [&cancelled] { cancelled = true; };
  ASSERT_TRUE(ledger.Park(3, cancel));
  // The stream breaks: a resumable session's parked call stays parked.
  EXPECT_TRUE(ledger.Detach(one).empty());
  const uint64_t two = ledger.Attach(&second);
  EXPECT_EQ(ledger.Arrive(3, two, &status, &response), Arrival::kInFlight);
  EXPECT_EQ(ledger.Arrive(3, two, &status, &response), Arrival::kDuplicate);
  ledger.Complete(3, absl::OkStatus(), "item");
  ASSERT_EQ(second.delivered.size(), 1u);
  EXPECT_EQ(second.delivered[0], std::make_pair(uint64_t{3}, std::string("item")));
  EXPECT_FALSE(cancelled);
}

// A ledger with two streams attached, and what a call's arrival reports.
struct TwoStreams {
  explicit TwoStreams(bool keeps_replies)
      : ledger(keeps_replies, CallLedger::Limits()),
        one(ledger.Attach(&first)),
        two(ledger.Attach(&second)) {}
  Arrival Arrive(uint64_t call_id, uint64_t stream) {
    return ledger.Arrive(call_id, stream, &status, &response);
  }

  CallLedger ledger;
  RecordingSink first;
  RecordingSink second;
  const uint64_t one;
  const uint64_t two;
  absl::Status status;
  std::string response;
};

// A stream counts the calls whose replies it awaits: a call that moves to
// another stream is awaited there, and no more where it was.
TEST(CallLedger, AStreamLearnsThatACallInFlightMovedToAnother) {
  TwoStreams streams(/*keeps_replies=*/true);
  ASSERT_EQ(streams.Arrive(3, streams.one), Arrival::kNew);
  EXPECT_EQ(streams.Arrive(3, streams.two), Arrival::kInFlight);
  EXPECT_EQ(streams.first.moved, std::vector<uint64_t>{3});
  EXPECT_TRUE(streams.second.moved.empty());
  // Back on the first stream: the second no longer awaits it.
  EXPECT_EQ(streams.Arrive(3, streams.one), Arrival::kInFlight);
  EXPECT_EQ(streams.second.moved, std::vector<uint64_t>{3});
  EXPECT_EQ(streams.first.moved, std::vector<uint64_t>{3});
  streams.ledger.Complete(3, absl::OkStatus(), "item");
  EXPECT_EQ(streams.first.delivered,
            (std::vector<std::pair<uint64_t, std::string>>{{3, "item"}}));
  EXPECT_TRUE(streams.second.delivered.empty());
}

// Only the stream the call leaves hears of it: not a stream that never had
// it, not the stream a duplicate arrives on (which answers the duplicate
// itself), and not a stream that has detached.
TEST(CallLedger, OnlyTheStreamACallLeavesIsToldItMoved) {
  TwoStreams streams(/*keeps_replies=*/true);
  RecordingSink third;
  const uint64_t three = streams.ledger.Attach(&third);
  ASSERT_EQ(streams.Arrive(4, streams.one), Arrival::kNew);
  EXPECT_EQ(streams.Arrive(4, streams.one), Arrival::kDuplicate);
  EXPECT_TRUE(streams.first.moved.empty());
  EXPECT_EQ(streams.Arrive(4, streams.two), Arrival::kInFlight);
  EXPECT_EQ(streams.first.moved, std::vector<uint64_t>{4});
  EXPECT_TRUE(third.moved.empty());
  streams.ledger.Detach(streams.two);
  EXPECT_EQ(streams.Arrive(4, three), Arrival::kInFlight);
  EXPECT_TRUE(streams.second.moved.empty());
  EXPECT_TRUE(third.moved.empty());
}

TEST(CallLedger, ParkedCallsAreCancelledOnceAndOnlyWithTheirStream) {
  TwoStreams streams(/*keeps_replies=*/false);
  CallLedger& ledger = streams.ledger;
  ASSERT_EQ(streams.Arrive(1, streams.one), Arrival::kNew);
  ASSERT_EQ(streams.Arrive(2, streams.two), Arrival::kNew);
  std::vector<std::string> ran;
  absl::AnyInvocable<void()> replaced = [&ran] { ran.push_back("replaced"); };
  ASSERT_TRUE(ledger.Park(1, replaced));
  // Parked again (its waiter changed): the cancel it replaces is dropped.
  absl::AnyInvocable<void()> cancel_one = [&ran] { ran.push_back("one"); };
  ASSERT_TRUE(ledger.Park(1, cancel_one));
  absl::AnyInvocable<void()> cancel_two = [&ran] { ran.push_back("two"); };
  ASSERT_TRUE(ledger.Park(2, cancel_two));
  CallLedger::Cancels cancels = ledger.TakeCancelsOf(streams.one);
  ASSERT_EQ(cancels.size(), 1u);
  cancels[0]();
  EXPECT_EQ(ran, std::vector<std::string>{"one"});
  // Taken once.
  EXPECT_TRUE(ledger.TakeCancelsOf(streams.one).empty());
  EXPECT_FALSE(ledger.TakeCancel(1));
  ledger.Complete(1, absl::CancelledError("cancelled"), "");
  EXPECT_EQ(ran, std::vector<std::string>{"one"});
  // The other stream's call is still parked.
  absl::AnyInvocable<void()> two_cancel = ledger.TakeCancel(2);
  ASSERT_TRUE(two_cancel);
  two_cancel();
  EXPECT_EQ(ran, (std::vector<std::string>{"one", "two"}));
  EXPECT_FALSE(ledger.TakeCancel(2));
}

TEST(CallLedger, WithoutResumeABrokenStreamsParkedCallsAreCancelledAndNothingIsKept) {
  CallLedger ledger(/*keeps_replies=*/false, CallLedger::Limits());
  RecordingSink sink;
  const uint64_t one = ledger.Attach(&sink);
  absl::Status status;
  std::string response;
  ASSERT_EQ(ledger.Arrive(1, one, &status, &response), Arrival::kNew);
  absl::AnyInvocable<void()> cancel = [] {};
  ASSERT_TRUE(ledger.Park(1, cancel));
  EXPECT_EQ(ledger.Detach(one).size(), 1u);
  ledger.Complete(1, absl::CancelledError("cancelled"), "");
  EXPECT_EQ(ledger.kept(), 0u);
}

// A resumable session's ledger that keeps two replies at most, with one
// stream attached.
class CallLedgerKeepingTwo : public ::testing::Test {
 protected:
  static CallLedger::Limits TwoReplies() {
    CallLedger::Limits limits;
    limits.max_replies = 2;
    return limits;
  }

  CallLedger ledger_{/*keeps_replies=*/true, TwoReplies()};
  RecordingSink sink_;
  const uint64_t one_ = ledger_.Attach(&sink_);
  absl::Status status_;
  std::string response_;
};

TEST_F(CallLedgerKeepingTwo, AClientThatNeverAcknowledgesIsToldOnceTheLimitIsPassed) {
  for (uint64_t id = 1; id <= 3; ++id) {
    ASSERT_EQ(ledger_.Arrive(id, one_, &status_, &response_), Arrival::kNew);
    ledger_.Complete(id, absl::OkStatus(), "r");
  }
  EXPECT_EQ(sink_.delivered.size(), 3u);
  EXPECT_NE(sink_.overflow.find("3 replies"), std::string::npos) << sink_.overflow;
  EXPECT_NE(sink_.overflow.find("ClientFrame.acks"), std::string::npos) << sink_.overflow;
  EXPECT_EQ(ledger_.kept(), 0u);
}

// A call id twice among the completions of one batch is completed once,
// whether its reply is kept or not.
TEST(CallLedger, ACallCompletedTwiceInOneBatchIsAnsweredOnce) {
  for (bool keeps : {true, false}) {
    CallLedger ledger(keeps, CallLedger::Limits());
    RecordingSink sink;
    const uint64_t one = ledger.Attach(&sink);
    absl::Status status;
    std::string response;
    ASSERT_EQ(ledger.Arrive(5, one, &status, &response), Arrival::kNew);
    std::vector<CallLedger::Completion> done;
    done.push_back({5, absl::OkStatus(), "first"});
    done.push_back({5, absl::OkStatus(), "second"});
    ledger.CompleteAll(absl::MakeSpan(done));
    EXPECT_EQ(sink.delivered, (std::vector<std::pair<uint64_t, std::string>>{{5, "first"}}))
        << keeps;
    EXPECT_EQ(ledger.kept(), keeps ? 1u : 0u);
    if (keeps) {
      ASSERT_EQ(ledger.Arrive(5, one, &status, &response), Arrival::kAnswered);
      EXPECT_EQ(response, "first");
    } else {
      EXPECT_EQ(ledger.Arrive(5, one, &status, &response), Arrival::kNew);
    }
    ledger.Ack({5});
    EXPECT_EQ(ledger.kept(), 0u);
  }
}

// The limit passed in the middle of a batch: every reply of the batch is
// delivered, none is kept, and the calls still running stay in the ledger.
TEST_F(CallLedgerKeepingTwo, TheLimitPassedInTheMiddleOfABatchForgetsEveryReplyKept) {
  for (uint64_t id = 1; id <= 6; ++id) {
    ASSERT_EQ(ledger_.Arrive(id, one_, &status_, &response_), Arrival::kNew);
  }
  std::vector<CallLedger::Completion> done;
  for (uint64_t id = 1; id <= 5; ++id) done.push_back({id, absl::OkStatus(), "r"});
  ledger_.CompleteAll(absl::MakeSpan(done));
  EXPECT_EQ(sink_.delivered.size(), 5u);
  EXPECT_NE(sink_.overflow.find("3 replies"), std::string::npos) << sink_.overflow;
  EXPECT_EQ(ledger_.kept(), 0u);
  // Call 6 still runs: sent again on the same stream, it is a duplicate.
  EXPECT_EQ(ledger_.Arrive(6, one_, &status_, &response_), Arrival::kDuplicate);
  ledger_.Complete(6, absl::OkStatus(), "six");
  EXPECT_EQ(sink_.delivered.back(), (std::pair<uint64_t, std::string>{6, "six"}));
  EXPECT_EQ(ledger_.kept(), 0u);
  // The replies forgotten are not answered again: the calls would run anew.
  EXPECT_EQ(ledger_.Arrive(1, one_, &status_, &response_), Arrival::kNew);
}

TEST(CallLedger, NothingIsKeptOnceTheSessionHasEnded) {
  CallLedger ledger(/*keeps_replies=*/true, CallLedger::Limits());
  absl::Status status;
  std::string response;
  ASSERT_EQ(ledger.Arrive(1, 0, &status, &response), Arrival::kNew);
  ledger.End();
  ledger.Complete(1, absl::CancelledError("cancelled"), "");
  EXPECT_EQ(ledger.kept(), 0u);
}

}  // namespace
}  // namespace shoal::server
