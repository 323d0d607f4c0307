#include "server/objects/connection_object.h"

#include <algorithm>
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
#include "server/objects/pipe_object.h"
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

class ConnectionObjectTest : public ::testing::Test {
 protected:
  // The ends of a new pipe, named #1 (first) and #2 (second) for Repr.
  ConnectionObject::Ends Make(bool duplex = true, int64_t buffer_bytes = 0,
                              MemoryBudget* budget = nullptr) {
    absl::StatusOr<ConnectionObject::Ends> ends =
        ConnectionObject::MakePipe(duplex, buffer_bytes, budget, &timers_);
    EXPECT_TRUE(ends.ok()) << ends.status();
    if (!ends.ok()) return {};
    ends->first->SetPeerId(2);
    ends->second->SetPeerId(1);
    return *std::move(ends);
  }
  WaitRequest Request(std::string name, std::optional<absl::Time> deadline = std::nullopt,
                      SessionId session = 1) {
    return WaitRequest{Caller{session}, deadline, recorder_.Track(std::move(name))};
  }
  // A call that must not wait: a deadline of now.
  WaitRequest NoWait(std::string name, SessionId session = 1) {
    return Request(std::move(name), timers_.Now(), session);
  }
  absl::Time In(absl::Duration d) { return timers_.Now() + d; }

  ::testing::AssertionResult Got(const std::string& name, const Value& item) {
    const Outcome outcome = recorder_.Of(name);
    if (!outcome.status.ok()) {
      return ::testing::AssertionFailure() << name << ": " << outcome.status;
    }
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
  ::testing::AssertionResult FailedWith(const std::string& name, ErrorKind kind,
                                        const std::string& message) {
    return IsError(recorder_.Of(name).status, kind, message);
  }
  ::testing::AssertionResult Cancelled(const std::string& name) {
    const absl::Status status = recorder_.Of(name).status;
    if (status.code() == absl::StatusCode::kCancelled) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << name << ": " << status;
  }

  ManualTimers timers_;
  Recorder recorder_;
};

TEST_F(ConnectionObjectTest, MakesTwoEndsThatGoTheWaysThePipeDoes) {
  auto [a, b] = Make();
  EXPECT_EQ(a->kind(), Kind::kConnection);
  EXPECT_EQ(b->kind(), Kind::kConnection);
  EXPECT_TRUE(a->Readable() && a->Writable() && b->Readable() && b->Writable());
  EXPECT_FALSE(a->Closed());
  EXPECT_EQ(a->Repr(), "<Connection duplex, peer #2, 0 messages>");
  EXPECT_EQ(a->Size(), 0);

  auto [in, out] = Make(/*duplex=*/false);
  EXPECT_TRUE(in->Readable());
  EXPECT_FALSE(in->Writable());
  EXPECT_FALSE(out->Readable());
  EXPECT_TRUE(out->Writable());
  EXPECT_EQ(in->Repr(), "<Connection read-only, peer #2, 0 messages>");
  EXPECT_EQ(out->Repr(), "<Connection write-only, peer #1, 0 messages>");

  EXPECT_TRUE(IsError(ConnectionObject::MakePipe(true, -1, nullptr, &timers_),
                      ErrorKind::kValueError, "a Pipe's buffer must not be negative, not -1 bytes"));
}

TEST_F(ConnectionObjectTest, EachDirectionDeliversInTheOrderSent) {
  auto [a, b] = Make();
  a->Send(Request("a sends 1"), 1);
  a->Send(Request("a sends two"), "two");
  b->Send(Request("b sends 3.0"), 3.0);
  EXPECT_TRUE(Done("a sends 1"));
  EXPECT_TRUE(Done("b sends 3.0"));
  EXPECT_EQ(b->Pending(), 2);
  EXPECT_EQ(a->Pending(), 1);
  EXPECT_EQ(b->Repr(), "<Connection duplex, peer #1, 2 messages>");
  EXPECT_EQ(a->Repr(), "<Connection duplex, peer #2, 1 message>");

  b->Recv(Request("b gets 1"));
  b->Recv(Request("b gets two"));
  a->Recv(Request("a gets 3.0"));
  EXPECT_TRUE(Got("b gets 1", 1));
  EXPECT_TRUE(Got("b gets two", "two"));
  EXPECT_TRUE(Got("a gets 3.0", 3.0));
  EXPECT_EQ(a->Pending() + b->Pending(), 0);
}

TEST_F(ConnectionObjectTest, TheWrongDirectionIsOSErrorAndChangesNothing) {
  auto [in, out] = Make(/*duplex=*/false);
  in->Send(Request("send on the receiving end"), 1);
  out->Recv(Request("recv on the sending end"));
  out->Poll(Request("poll on the sending end"));
  EXPECT_TRUE(FailedWith("send on the receiving end", ErrorKind::kOSError,
                         "connection is read-only"));
  EXPECT_TRUE(FailedWith("recv on the sending end", ErrorKind::kOSError,
                         "connection is write-only"));
  EXPECT_TRUE(FailedWith("poll on the sending end", ErrorKind::kOSError,
                         "connection is write-only"));
  EXPECT_EQ(in->Pending() + out->Pending(), 0);
  EXPECT_EQ(out->NReceivers() + out->NPollers() + in->NSenders(), 0);

  out->Send(Request("the right way"), "x");
  in->Recv(Request("received"));
  EXPECT_TRUE(Done("the right way"));
  EXPECT_TRUE(Got("received", "x"));
}

TEST_F(ConnectionObjectTest, AClosedEndRefusesEveryCallWithOSError) {
  auto [a, b] = Make();
  b->Send(Request("sent before"), 1);
  a->Close();
  EXPECT_TRUE(a->Closed());
  EXPECT_TRUE(b->PeerClosed());
  a->Close();  // Python's close() may be called again.
  a->Send(Request("send"), 1);
  a->Recv(Request("recv"));
  a->Poll(Request("poll"));
  for (const char* call : {"send", "recv", "poll"}) {
    EXPECT_TRUE(FailedWith(call, ErrorKind::kOSError, "connection is closed")) << call;
  }
  // What was sent to the closed end is gone with it.
  EXPECT_EQ(a->Pending(), 0);
  EXPECT_EQ(a->Repr(), "<Connection duplex, peer #2, closed>");
  EXPECT_EQ(b->Repr(), "<Connection duplex, peer #1 closed, 0 messages>");
  // The peer can no longer send: Python's BrokenPipeError.
  b->Send(Request("send to a closed end"), 2);
  EXPECT_TRUE(FailedWith("send to a closed end", ErrorKind::kOSError,
                         "the other end of the pipe is closed"));
}

TEST_F(ConnectionObjectTest, EOFComesOnlyOnceEverythingSentHasBeenReceived) {
  auto [a, b] = Make();
  b->Send(Request("send 1"), 1);
  b->Send(Request("send 2"), 2);
  b->Close();
  a->Poll(NoWait("poll with messages"));
  EXPECT_TRUE(Got("poll with messages", true));
  a->Recv(Request("recv 1"));
  a->Recv(Request("recv 2"));
  a->Recv(Request("recv at the end"));
  EXPECT_TRUE(Got("recv 1", 1));
  EXPECT_TRUE(Got("recv 2", 2));
  EXPECT_TRUE(FailedWith("recv at the end", ErrorKind::kEOFError,
                         "the other end of the pipe is closed"));
  // At the end a recv would not wait, so poll says true, and EOF stays.
  a->Poll(NoWait("poll at the end"));
  EXPECT_TRUE(Got("poll at the end", true));
  a->Recv(Request("recv again"));
  EXPECT_TRUE(Failed("recv again", ErrorKind::kEOFError));
}

TEST_F(ConnectionObjectTest, ClosingAnEndFailsItsOwnParkedCallsWithOSError) {
  auto [a, b] = Make(true, /*buffer_bytes=*/1);
  a->Send(Request("a sends 1"), 1);
  a->Send(Request("a waits for room", In(absl::Seconds(5))), 2);
  a->Recv(Request("a recv", In(absl::Seconds(5))));
  a->Poll(Request("a poll", In(absl::Seconds(5))));
  EXPECT_EQ(a->NSenders(), 1);
  EXPECT_EQ(a->NReceivers(), 1);
  EXPECT_EQ(a->NPollers(), 1);

  a->Close();
  for (const char* call : {"a waits for room", "a recv", "a poll"}) {
    EXPECT_TRUE(FailedWith(call, ErrorKind::kOSError, "connection is closed")) << call;
  }
  EXPECT_EQ(timers_.pending(), 0u);
  // What a sent before it closed is still b's to receive; the parked 2 was
  // never sent.
  b->Recv(Request("b gets 1"));
  b->Recv(Request("b at the end"));
  EXPECT_TRUE(Got("b gets 1", 1));
  EXPECT_TRUE(Failed("b at the end", ErrorKind::kEOFError));
}

TEST_F(ConnectionObjectTest, ClosingAnEndAnswersThePeersParkedCalls) {
  auto [a, b] = Make(true, /*buffer_bytes=*/1);
  a->Send(Request("a sends 1"), 1);
  a->Send(Request("a waits for room", In(absl::Seconds(5))), 2);
  a->Recv(Request("a recv", In(absl::Seconds(5))));
  a->Poll(Request("a poll"));

  b->Close();
  // Nothing more will come to a: its receiver sees the end, its poller that
  // a recv would not wait, and its sender that nobody will receive.
  EXPECT_TRUE(FailedWith("a recv", ErrorKind::kEOFError, "the other end of the pipe is closed"));
  EXPECT_TRUE(Got("a poll", true));
  EXPECT_TRUE(FailedWith("a waits for room", ErrorKind::kOSError,
                         "the other end of the pipe is closed"));
  EXPECT_EQ(a->NSenders() + a->NReceivers() + a->NPollers(), 0);
  EXPECT_EQ(timers_.pending(), 0u);
  EXPECT_EQ(b->Pending(), 0);
}

TEST_F(ConnectionObjectTest, DestroyingAnEndClosesIt) {
  auto [a, b] = Make();
  b->Send(Request("b sends"), "last words");
  a->Send(Request("a sends"), "never read");
  b.reset();
  EXPECT_TRUE(a->PeerClosed());
  a->Recv(Request("recv"));
  a->Recv(Request("recv at the end"));
  EXPECT_TRUE(Got("recv", "last words"));
  EXPECT_TRUE(Failed("recv at the end", ErrorKind::kEOFError));
  a->Send(Request("send"), 1);
  EXPECT_TRUE(Failed("send", ErrorKind::kOSError));

  // A parked receiver learns of the end when its peer goes.
  auto [c, d] = Make();
  c->Recv(Request("parked recv"));
  d.reset();
  EXPECT_TRUE(Failed("parked recv", ErrorKind::kEOFError));
}

TEST_F(ConnectionObjectTest, AFullBufferParksSendsUntilRecvMakesRoomInOrder) {
  const int64_t one = ApproxBytes(Value(1));
  auto [a, b] = Make(true, /*buffer_bytes=*/2 * one);
  a->Send(Request("send 1"), 1);
  a->Send(Request("send 2"), 2);
  a->Send(Request("send 3"), 3);
  a->Send(Request("send 4"), 4);
  EXPECT_TRUE(Done("send 1"));
  EXPECT_TRUE(Done("send 2"));
  EXPECT_FALSE(recorder_.Has("send 3"));
  EXPECT_EQ(a->NSenders(), 2);
  EXPECT_EQ(b->Pending(), 2);
  EXPECT_EQ(b->PendingBytes(), 2 * one);

  // Each recv admits the oldest parked sender, once there is room for it.
  b->Recv(Request("recv 1"));
  EXPECT_TRUE(Got("recv 1", 1));
  EXPECT_TRUE(Done("send 3"));
  EXPECT_FALSE(recorder_.Has("send 4"));
  for (int i = 2; i <= 4; ++i) b->Recv(Request("recv " + std::to_string(i)));
  EXPECT_TRUE(Done("send 4"));
  for (int i = 2; i <= 4; ++i) EXPECT_TRUE(Got("recv " + std::to_string(i), i));
  EXPECT_EQ(a->NSenders(), 0);
  EXPECT_EQ(b->Pending(), 0);
}

TEST_F(ConnectionObjectTest, AMessageLargerThanTheBufferGoesAloneAndKeepsItsPlace) {
  const Value big = std::string(500, 'x');
  auto [a, b] = Make(true, /*buffer_bytes=*/100);
  a->Send(Request("send big"), big);  // An empty buffer takes it whole.
  a->Send(Request("send small"), 1);  // Parked: the buffer is over full.
  a->Send(Request("send big again"), big);
  a->Send(Request("send small again"), 2);  // Would fit, but waits its turn.
  EXPECT_TRUE(Done("send big"));
  EXPECT_EQ(a->NSenders(), 3);

  std::vector<Value> got;
  for (int i = 0; i < 4; ++i) {
    auto [done, outcome] = Promised();
    b->Recv(WaitRequest{Caller{2}, std::nullopt, std::move(done)});
    got.push_back(outcome.get().value);
  }
  EXPECT_EQ(got, (std::vector<Value>{big, 1, big, 2}));
  EXPECT_TRUE(Done("send small again"));
}

TEST_F(ConnectionObjectTest, ASendGoesStraightToTheOldestParkedReceiverUncharged) {
  MemoryBudget budget(1);
  auto [a, b] = Make(true, 0, &budget);
  b->Recv(Request("first receiver"));
  b->Recv(Request("second receiver"));
  b->Poll(Request("poller", In(absl::Seconds(1))));
  a->Send(Request("send"), "handed over, never held");
  EXPECT_TRUE(Done("send"));
  EXPECT_TRUE(Got("first receiver", "handed over, never held"));
  EXPECT_FALSE(recorder_.Has("second receiver"));
  // Nothing waits in the buffer, so the poller waits on.
  EXPECT_FALSE(recorder_.Has("poller"));
  EXPECT_EQ(budget.used(), 0);
  timers_.Advance(absl::Seconds(1));
  EXPECT_TRUE(Got("poller", false));
  b->Close();
  EXPECT_TRUE(Failed("second receiver", ErrorKind::kOSError));
}

TEST_F(ConnectionObjectTest, PollWaitsForAMessageOrItsTimeout) {
  auto [a, b] = Make();
  b->Poll(NoWait("poll(0)"));
  EXPECT_TRUE(Got("poll(0)", false));
  b->Poll(Request("poll(1s)", In(absl::Seconds(1))));
  b->Poll(Request("poll(None)"));
  EXPECT_EQ(b->NPollers(), 2);
  timers_.Advance(absl::Seconds(1));
  EXPECT_TRUE(Got("poll(1s)", false));
  EXPECT_FALSE(recorder_.Has("poll(None)"));
  b->Poll(Request("poll(5s)", In(absl::Seconds(5))));
  a->Send(Request("send"), "x");
  // Every poller learns of the message; none takes it.
  EXPECT_TRUE(Got("poll(None)", true));
  EXPECT_TRUE(Got("poll(5s)", true));
  EXPECT_EQ(b->Pending(), 1);
  EXPECT_EQ(timers_.pending(), 0u);
  b->Poll(NoWait("poll(0) with a message"));
  EXPECT_TRUE(Got("poll(0) with a message", true));
}

TEST_F(ConnectionObjectTest, RecvAndSendTimeOutWithTimeoutError) {
  auto [a, b] = Make(true, /*buffer_bytes=*/1);
  b->Recv(NoWait("recv, no wait"));
  EXPECT_TRUE(FailedWith("recv, no wait", ErrorKind::kTimeoutError, "nothing to receive"));
  b->Recv(Request("recv(1s)", In(absl::Seconds(1))));
  timers_.Advance(absl::Seconds(1));
  EXPECT_TRUE(FailedWith("recv(1s)", ErrorKind::kTimeoutError, "nothing was received in time"));

  a->Send(Request("fill"), 1);
  a->Send(NoWait("send, no wait"), 2);
  EXPECT_TRUE(FailedWith("send, no wait", ErrorKind::kTimeoutError, "the pipe is full"));
  a->Send(Request("send(1s)", In(absl::Seconds(1))), 3);
  timers_.Advance(absl::Seconds(1));
  EXPECT_TRUE(FailedWith("send(1s)", ErrorKind::kTimeoutError, "the pipe stayed full"));
  // Neither 2 nor 3 went in: the timed-out sends sent nothing.
  b->Recv(Request("recv 1"));
  b->Recv(NoWait("recv nothing more"));
  EXPECT_TRUE(Got("recv 1", 1));
  EXPECT_TRUE(Failed("recv nothing more", ErrorKind::kTimeoutError));
}

TEST_F(ConnectionObjectTest, CancelledOrEndedReceiversTakeNothingAndSendersSendNothing) {
  auto [a, b] = Make(true, /*buffer_bytes=*/1);
  const WaitId cancelled = b->Recv(Request("cancelled recv"));
  b->Recv(Request("ended recv", std::nullopt, /*session=*/7));
  b->Poll(Request("ended poll", std::nullopt, 7));
  b->Recv(Request("live recv"));
  b->Cancel(cancelled);
  b->EndSession(7);
  EXPECT_TRUE(Cancelled("cancelled recv"));
  EXPECT_TRUE(Cancelled("ended recv"));
  EXPECT_TRUE(Cancelled("ended poll"));
  a->Send(Request("send x"), "x");
  EXPECT_TRUE(Got("live recv", "x"));

  a->Send(Request("fill"), 1);
  const WaitId parked = a->Send(Request("cancelled send"), 2);
  a->Send(Request("ended send", std::nullopt, 7), 3);
  a->Send(Request("live send"), 4);
  a->Cancel(parked);
  a->EndSession(7);
  EXPECT_TRUE(Cancelled("cancelled send"));
  EXPECT_TRUE(Cancelled("ended send"));
  // A cancel of a waiter already answered, or of another end's, does nothing.
  b->Cancel(parked);
  a->Cancel(cancelled);
  b->Recv(Request("recv 1"));
  b->Recv(Request("recv 4"));
  EXPECT_TRUE(Got("recv 1", 1));
  EXPECT_TRUE(Got("recv 4", 4));
  EXPECT_TRUE(Done("live send"));
  EXPECT_EQ(b->Pending(), 0);
}

TEST_F(ConnectionObjectTest, BufferedMessagesAreChargedToTheBudget) {
  const Value small = "ab";
  const Value big = std::string(1000, 'x');
  MemoryBudget budget(3 * ApproxBytes(small));
  auto [a, b] = Make(true, 0, &budget);
  a->Send(Request("send big"), big);
  EXPECT_TRUE(Failed("send big", ErrorKind::kLimitError));
  // A LimitError changes nothing.
  EXPECT_EQ(b->Pending(), 0);
  EXPECT_EQ(budget.used(), 0);

  for (int i = 0; i < 3; ++i) a->Send(Request("send " + std::to_string(i)), small);
  EXPECT_EQ(budget.used(), 3 * ApproxBytes(small));
  b->Send(Request("send the other way"), small);
  EXPECT_TRUE(Failed("send the other way", ErrorKind::kLimitError));
  b->Recv(Request("recv"));
  EXPECT_EQ(budget.used(), 2 * ApproxBytes(small));
  // What a closed end can no longer receive gives its bytes back.
  b->Close();
  EXPECT_EQ(budget.used(), 0);
}

TEST_F(ConnectionObjectTest, AParkedSenderThatNoLongerFitsFailsAndTheNextIsAdmitted) {
  const Value small = 1;
  const Value big = std::string(1000, 'x');
  MemoryBudget budget(2 * ApproxBytes(small));
  auto [a, b] = Make(true, /*buffer_bytes=*/1, &budget);
  a->Send(Request("send 1"), small);
  a->Send(Request("send big"), big);  // Parked: charged only when admitted.
  a->Send(Request("send 2"), 2);
  EXPECT_EQ(budget.used(), ApproxBytes(small));
  b->Recv(Request("recv 1"));
  EXPECT_TRUE(Got("recv 1", 1));
  EXPECT_TRUE(Failed("send big", ErrorKind::kLimitError));
  EXPECT_TRUE(Done("send 2"));
  EXPECT_EQ(budget.used(), ApproxBytes(Value(2)));
  a.reset();
  b.reset();
  EXPECT_EQ(budget.used(), 0);
}

TEST_F(ConnectionObjectTest, ForEachRefVisitsWhatAnEndHoldsAndMarksBothEnds) {
  auto [a, b] = Make(true, /*buffer_bytes=*/1);
  EXPECT_FALSE(a->may_hold_refs());
  EXPECT_FALSE(b->may_hold_refs());
  a->Send(Request("send 1"), Value::list({ObjectRef{7, Kind::kList, nullptr}}));
  a->Send(Request("send 2"), Value(ObjectRef{9, Kind::kDict, nullptr}));  // Parked.
  // The message is b's to receive, and the parked one a's to send: whichever
  // end stays reachable, the collector must see them.
  EXPECT_TRUE(a->may_hold_refs());
  EXPECT_TRUE(b->may_hold_refs());
  std::vector<uint64_t> ids;
  b->ForEachRef([&](const ObjectRef& ref) { ids.push_back(ref.id); });
  EXPECT_EQ(ids, (std::vector<uint64_t>{7}));
  ids.clear();
  a->ForEachRef([&](const ObjectRef& ref) { ids.push_back(ref.id); });
  EXPECT_EQ(ids, (std::vector<uint64_t>{9}));
}

TEST_F(ConnectionObjectTest, ACompletionMayCallBackIntoThePipe) {
  // Completions run once the mutex is released: a receiver that receives
  // again from inside its completion does not deadlock.
  auto [a, b] = Make();
  std::vector<Value> got;
  ConnectionObject* end = b.get();
  b->Recv(WaitRequest{Caller{1}, std::nullopt, [&](Outcome first) {
                        got.push_back(first.value);
                        end->Recv(WaitRequest{Caller{1}, std::nullopt,
                                              [&](Outcome o) { got.push_back(o.value); }});
                      }});
  a->Send(Request("send a"), "a");
  EXPECT_EQ(got, (std::vector<Value>{"a"}));
  EXPECT_EQ(b->NReceivers(), 1);
  a->Send(Request("send b"), "b");
  EXPECT_EQ(got, (std::vector<Value>{"a", "b"}));
}

TEST_F(ConnectionObjectTest, HeldHasNoHoldersAndCountsEachSessionsParkedCalls) {
  using ::testing::IsEmpty;
  using ::testing::Pair;
  using ::testing::UnorderedElementsAre;
  auto [a, b] = Make(true, /*buffer_bytes=*/1);
  b->Recv(Request("r1", std::nullopt, 1));
  b->Poll(Request("p1", std::nullopt, 1));
  b->Recv(Request("r2", std::nullopt, 2));
  b->Send(Request("fill", std::nullopt, 3), 1);
  b->Send(Request("s3", std::nullopt, 3), 2);
  Holdings held = b->Held();
  EXPECT_THAT(held.held, IsEmpty());
  EXPECT_THAT(held.waiting, UnorderedElementsAre(Pair(1u, 2), Pair(2u, 1), Pair(3u, 1)));
  EXPECT_THAT(a->Held().waiting, IsEmpty());
  b->EndSession(1);
  EXPECT_THAT(b->Held().waiting, UnorderedElementsAre(Pair(2u, 1), Pair(3u, 1)));
}

// Senders on both ends, several threads each, send to a small buffer and wait
// for each send; receivers on both ends take messages through recv calls
// until each gets a sentinel. Every message arrives once, at the end it was
// sent to, in the order each sender sent it.
TEST_F(ConnectionObjectTest, ConcurrentSendersAndReceiversExchangeEveryMessageExactlyOnce) {
  constexpr int kSendersPerEnd = 3;
  constexpr int kReceiversPerEnd = 2;
  constexpr int kMessages = 1000;
  constexpr int64_t kSentinel = -1;
  auto [a, b] = Make(true, /*buffer_bytes=*/8 * ApproxBytes(Value(1)));
  ConnectionObject* ends[2] = {a.get(), b.get()};

  auto send = [&](int end, SessionId session, int64_t message) {
    auto [done, outcome] = Promised();
    ends[end]->Send(WaitRequest{Caller{session}, std::nullopt, std::move(done)}, message);
    EXPECT_TRUE(IsOk(outcome.get().status));
  };
  // received[end][receiver]: what each receiver of each end took.
  std::vector<std::vector<std::vector<int64_t>>> received(
      2, std::vector<std::vector<int64_t>>(kReceiversPerEnd));
  std::vector<std::thread> receivers;
  for (int end = 0; end < 2; ++end) {
    for (int r = 0; r < kReceiversPerEnd; ++r) {
      receivers.emplace_back([&, end, r] {
        for (;;) {
          auto [done, outcome] = Promised();
          ends[end]->Recv(
              WaitRequest{Caller{static_cast<SessionId>(100 + r)}, std::nullopt, std::move(done)});
          const Outcome result = outcome.get();
          if (!result.status.ok()) {
            ADD_FAILURE() << result.status;
            return;
          }
          if (result.value.as_int() == kSentinel) return;
          received[end][r].push_back(result.value.as_int());
        }
      });
    }
  }
  std::vector<std::thread> senders;
  for (int end = 0; end < 2; ++end) {
    for (int s = 0; s < kSendersPerEnd; ++s) {
      senders.emplace_back([&, end, s] {
        // Sender s of end sends end * 1e6 + s * kMessages + i.
        for (int i = 0; i < kMessages; ++i) {
          send(end, static_cast<SessionId>(1 + s), end * 1000000 + s * kMessages + i);
        }
      });
    }
  }
  for (std::thread& sender : senders) sender.join();
  // In order: the sentinels come after every message, one per receiver.
  for (int end = 0; end < 2; ++end) {
    for (int r = 0; r < kReceiversPerEnd; ++r) send(end, 99, kSentinel);
  }
  for (std::thread& receiver : receivers) receiver.join();

  for (int end = 0; end < 2; ++end) {
    // What end 0 sent, end 1 received, and the other way round.
    const int64_t base = (1 - end) * 1000000;
    std::vector<int64_t> all;
    for (const std::vector<int64_t>& messages : received[end]) {
      all.insert(all.end(), messages.begin(), messages.end());
      std::vector<int64_t> last(kSendersPerEnd, -1);
      for (int64_t message : messages) {
        const int64_t sender = (message - base) / kMessages;
        EXPECT_GT(message, last[sender]) << "out of order";
        last[sender] = message;
      }
    }
    std::sort(all.begin(), all.end());
    ASSERT_EQ(all.size(), static_cast<size_t>(kSendersPerEnd * kMessages));
    for (int i = 0; i < kSendersPerEnd * kMessages; ++i) ASSERT_EQ(all[i], base + i);
  }
  EXPECT_EQ(a->Pending() + b->Pending(), 0);
  EXPECT_EQ(a->NSenders() + b->NSenders() + a->NReceivers() + b->NReceivers(), 0);
}

// Receivers parked with deadlines race against the timer, Cancel, sends and
// the peer closing, on four threads. Whatever wins, each receiver completes
// exactly once, and each message goes to exactly one receiver or stays
// buffered.
TEST_F(ConnectionObjectTest, ParkedReceiversRacingTimersCancelSendAndCloseLoseNoMessage) {
  constexpr int kReceivers = 300;
  for (int round = 0; round < 5; ++round) {
    // Named, not bound: the threads below capture them.
    ConnectionObject::Ends pipe = Make();
    std::unique_ptr<ConnectionObject>& a = pipe.first;
    std::unique_ptr<ConnectionObject>& b = pipe.second;
    std::mutex mu;
    std::vector<int> completions(kReceivers, 0);
    std::vector<int64_t> got;
    std::vector<WaitId> ids;
    for (int r = 0; r < kReceivers; ++r) {
      std::optional<absl::Time> deadline;
      if (r % 2 == 0) deadline = In(absl::Milliseconds(1 + r));
      ids.push_back(b->Recv(WaitRequest{Caller{1}, deadline, [&, r](Outcome outcome) {
                                          std::lock_guard<std::mutex> lock(mu);
                                          ++completions[r];
                                          if (outcome.status.ok()) {
                                            got.push_back(outcome.value.as_int());
                                          }
                                        }}));
    }
    std::thread timer([&] { timers_.Advance(absl::Seconds(1)); });
    std::thread canceller([&] {
      for (int r = 1; r < kReceivers; r += 4) b->Cancel(ids[r]);
    });
    std::thread sender([&] {
      for (int i = 0; i < kReceivers; ++i) a->Send(Request("send"), i);
      a->Close();
    });
    timer.join();
    canceller.join();
    sender.join();

    for (int r = 0; r < kReceivers; ++r) ASSERT_EQ(completions[r], 1) << "receiver " << r;
    std::vector<int64_t> messages = got;
    for (;;) {
      auto [done, outcome] = Promised();
      b->Recv(WaitRequest{Caller{2}, timers_.Now(), std::move(done)});
      const Outcome result = outcome.get();
      if (!result.status.ok()) {
        EXPECT_TRUE(IsKind(result.status, ErrorKind::kEOFError));
        break;
      }
      messages.push_back(result.value.as_int());
    }
    std::sort(messages.begin(), messages.end());
    ASSERT_EQ(messages.size(), static_cast<size_t>(kReceivers)) << "round " << round;
    for (int i = 0; i < kReceivers; ++i) ASSERT_EQ(messages[i], i);
    EXPECT_EQ(timers_.pending(), 0u);
  }
}

// The list of references to two ends, as the factory gives a pipe.
Value Ends(uint64_t first, uint64_t second) {
  return Value::list({Value(ObjectRef{first, Kind::kConnection, nullptr}),
                      Value(ObjectRef{second, Kind::kConnection, nullptr})});
}

TEST(PipeObjectTest, HoldsItsTwoEndsByReference) {
  PipeObject pipe(/*duplex=*/false, Ends(5, 6));
  EXPECT_EQ(pipe.kind(), Kind::kPipe);
  EXPECT_TRUE(pipe.may_hold_refs());
  EXPECT_FALSE(pipe.duplex());
  EXPECT_EQ(pipe.Repr(), "<Pipe one-way, ends #5 and #6>");
  EXPECT_EQ(pipe.Size(), 0);
  std::vector<uint64_t> ids;
  pipe.ForEachRef([&](const ObjectRef& ref) {
    EXPECT_EQ(ref.kind, Kind::kConnection);
    ids.push_back(ref.id);
  });
  EXPECT_EQ(ids, (std::vector<uint64_t>{5, 6}));
  EXPECT_EQ(PipeObject(true, Ends(1, 2)).Repr(), "<Pipe duplex, ends #1 and #2>");
}

}  // namespace
}  // namespace shoal::server
