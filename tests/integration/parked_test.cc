// Parked calls seen from the wire: many waiters on few threads, and the ways a
// waiter ends other than by the state it waits for (a Cancel frame, a broken
// stream, a cancelled unary call), none of which may take an item or a grant.
#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "integration/fixture.h"
#include "integration/raw_client.h"
#include "integration/waiting.h"
#include "shoal/v1/event.grpc.pb.h"
#include "shoal/v1/lock.grpc.pb.h"
#include "shoal/v1/manager.pb.h"
#include "shoal/v1/queue.grpc.pb.h"
#include "shoal/v1/sync.pb.h"

namespace shoal::testing {
namespace {

constexpr int kCancelled = 1;  // google.rpc.Code CANCELLED

v1::CreateRequest Create(v1::Kind kind, const std::string& name) {
  v1::CreateRequest request;
  request.set_kind(kind);
  request.set_name(name);
  return request;
}

v1::TimedRequest Timed(const std::string& name, std::optional<double> timeout = std::nullopt) {
  v1::TimedRequest request;
  request.set_name(name);
  if (timeout.has_value()) request.set_timeout(*timeout);
  return request;
}

v1::ObjectRequest Named(const std::string& name) {
  v1::ObjectRequest request;
  request.set_name(name);
  return request;
}

v1::PutRequest Put(const std::string& name, int64_t item) {
  v1::PutRequest request;
  request.set_name(name);
  request.mutable_item()->set_int_(item);
  return request;
}

template <class Message>
Message Parse(const v1::Reply& reply) {
  Message message;
  EXPECT_EQ(reply.code(), 0) << reply.error_kind() << ": " << reply.error_message();
  EXPECT_TRUE(message.ParseFromString(reply.response()));
  return message;
}

class ParkedTest : public ServerTest {
 protected:
  ParkedTest() : raw_(server().address()) {}

  std::unique_ptr<RawStream> Open() {
    return std::make_unique<RawStream>(raw_.channel(), raw_.Login(server().authkey()));
  }

  // Runs one call on stream s and returns its reply.
  template <class Request>
  v1::Reply Run(RawStream& s, const std::string& method, const Request& request) {
    const uint64_t id = s.Add(method, request);
    EXPECT_TRUE(s.Send());
    // Replies to calls parked earlier on s may come first.
    while (!s.has_reply(id)) {
      if (!s.Receive(1)) break;
    }
    return s.reply(id);
  }

  // Waits until the server shows want calls parked on the named object,
  // asking it with Describe calls on s.
  ::testing::AssertionResult AwaitWaiting(RawStream& s, const std::string& name, int64_t want) {
    v1::DescribeRequest request;
    request.set_name(name);
    return shoal::testing::AwaitWaiting(name, want, [&] {
      return Parse<v1::ObjectInfo>(Run(s, "/shoal.v1.Manager/Describe", request)).waiting();
    });
  }

  RawClient raw_;
};

// One thousand parked Lock acquires, Queue gets and Event waits cost no
// thread each; every one is answered correctly once the state allows.
TEST_F(ParkedTest, AThousandWaitersOfEachKindParkOnAFewThreads) {
  constexpr int kWaiters = 1000;
  const std::string lock = Unique("lock"), queue = Unique("queue"), event = Unique("event");
  auto owner = Open();
  ASSERT_EQ(Run(*owner, "/shoal.v1.Manager/Create", Create(v1::LOCK, lock)).code(), 0);
  ASSERT_EQ(Run(*owner, "/shoal.v1.Manager/Create", Create(v1::QUEUE, queue)).code(), 0);
  ASSERT_EQ(Run(*owner, "/shoal.v1.Manager/Create", Create(v1::EVENT, event)).code(), 0);
  ASSERT_TRUE(Parse<v1::AcquireReply>(Run(*owner, "/shoal.v1.LockService/Acquire", Timed(lock)))
                  .acquired());
  const int threads_before = server().ThreadCount();

  // Ten sessions, a hundred waits of each kind apiece.
  std::vector<std::unique_ptr<RawStream>> waiters;
  std::vector<std::vector<uint64_t>> acquires(10), gets(10), waits(10);
  for (int s = 0; s < 10; ++s) {
    waiters.push_back(Open());
    for (int i = 0; i < kWaiters / 10; ++i) {
      acquires[s].push_back(waiters[s]->Add("/shoal.v1.LockService/Acquire", Timed(lock)));
      gets[s].push_back(waiters[s]->Add("/shoal.v1.QueueService/Get", Timed(queue)));
      waits[s].push_back(waiters[s]->Add("/shoal.v1.EventService/Wait", Timed(event)));
    }
    ASSERT_TRUE(waiters[s]->Send());
    // Each session's acquires park before the next session's, so that the
    // lock's first-come order is known below.
    EXPECT_TRUE(AwaitWaiting(*owner, lock, (s + 1) * (kWaiters / 10)));
  }
  EXPECT_TRUE(AwaitWaiting(*owner, queue, kWaiters));
  EXPECT_TRUE(AwaitWaiting(*owner, event, kWaiters));
  const int threads_parked = server().ThreadCount();
  RecordProperty("threads_before", threads_before);
  RecordProperty("threads_with_3000_parked", threads_parked);
  EXPECT_LE(threads_parked, threads_before + 4);
  EXPECT_LE(threads_parked, 32);

  // The event wakes every waiter.
  ASSERT_EQ(Run(*owner, "/shoal.v1.EventService/Set", Named(event)).code(), 0);
  for (int s = 0; s < 10; ++s) ASSERT_TRUE(waiters[s]->Receive(kWaiters / 10));
  for (int s = 0; s < 10; ++s) {
    for (uint64_t id : waits[s]) EXPECT_TRUE(Parse<v1::BoolReply>(waiters[s]->reply(id)).value());
  }

  // Every item put goes to exactly one getter.
  for (int item = 0; item < kWaiters; ++item) owner->Add("/shoal.v1.QueueService/Put", Put(queue, item));
  ASSERT_TRUE(owner->Send());
  ASSERT_TRUE(owner->Receive(kWaiters));
  std::set<int64_t> received;
  for (int s = 0; s < 10; ++s) {
    ASSERT_TRUE(waiters[s]->Receive(kWaiters / 10));
    for (uint64_t id : gets[s]) {
      received.insert(Parse<v1::ValueReply>(waiters[s]->reply(id)).value().int_());
    }
  }
  EXPECT_EQ(received.size(), static_cast<size_t>(kWaiters));
  EXPECT_EQ(*received.begin(), 0);
  EXPECT_EQ(*received.rbegin(), kWaiters - 1);

  // The lock goes to each waiter in turn, each with a larger fencing token;
  // every holder releases it for the next.
  ASSERT_EQ(Run(*owner, "/shoal.v1.LockService/Release", Named(lock)).code(), 0);
  int64_t last_token = 0;
  int granted = 0;
  for (int s = 0; s < 10; ++s) {
    for (uint64_t id : acquires[s]) {
      while (!waiters[s]->has_reply(id)) {
        ASSERT_TRUE(waiters[s]->Receive(1));
      }
      v1::AcquireReply reply = Parse<v1::AcquireReply>(waiters[s]->reply(id));
      ASSERT_TRUE(reply.acquired());
      EXPECT_GT(reply.fencing_token(), last_token);
      last_token = reply.fencing_token();
      ++granted;
      ASSERT_EQ(Run(*waiters[s], "/shoal.v1.LockService/Release", Named(lock)).code(), 0);
    }
  }
  EXPECT_EQ(granted, kWaiters);
  EXPECT_FALSE(
      Parse<v1::BoolReply>(Run(*owner, "/shoal.v1.LockService/Locked", Named(lock))).value());
}

// A Cancel frame answers a parked get with CANCELLED at once; the item put
// afterwards goes to the next getter, not to the cancelled one.
TEST_F(ParkedTest, CancelFrameEndsAParkedGetWhichTakesNothing) {
  const std::string queue = Unique("queue");
  auto s = Open();
  ASSERT_EQ(Run(*s, "/shoal.v1.Manager/Create", Create(v1::QUEUE, queue)).code(), 0);
  const uint64_t parked = s->Add("/shoal.v1.QueueService/Get", Timed(queue));
  ASSERT_TRUE(s->Send());
  EXPECT_TRUE(AwaitWaiting(*s, queue, 1));
  s->AddCancel(parked);
  ASSERT_TRUE(s->Send());
  ASSERT_TRUE(s->Receive(1));
  EXPECT_EQ(s->reply(parked).code(), kCancelled);
  EXPECT_TRUE(AwaitWaiting(*s, queue, 0));

  ASSERT_EQ(Run(*s, "/shoal.v1.QueueService/Put", Put(queue, 7)).code(), 0);
  EXPECT_EQ(Parse<v1::ValueReply>(Run(*s, "/shoal.v1.QueueService/Get", Timed(queue, 0)))
                .value()
                .int_(),
            7);
  // Cancelling a call that was answered already changes nothing.
  s->AddCancel(parked);
  ASSERT_TRUE(s->Send());
  EXPECT_EQ(Parse<v1::IntReply>(Run(*s, "/shoal.v1.QueueService/QSize", Named(queue))).value(), 0);
}

// A client whose stream breaks while its get is parked leaves the queue's
// next item to the others.
TEST_F(ParkedTest, BrokenStreamCancelsItsParkedCalls) {
  const std::string queue = Unique("queue");
  auto other = Open();
  ASSERT_EQ(Run(*other, "/shoal.v1.Manager/Create", Create(v1::QUEUE, queue)).code(), 0);
  {
    auto dying = Open();
    dying->Add("/shoal.v1.QueueService/Get", Timed(queue));
    ASSERT_TRUE(dying->Send());
    EXPECT_TRUE(AwaitWaiting(*other, queue, 1));
    dying->Cancel();
  }
  EXPECT_TRUE(AwaitWaiting(*other, queue, 0));
  ASSERT_EQ(Run(*other, "/shoal.v1.QueueService/Put", Put(queue, 11)).code(), 0);
  EXPECT_EQ(Parse<v1::ValueReply>(Run(*other, "/shoal.v1.QueueService/Get", Timed(queue, 0)))
                .value()
                .int_(),
            11);
}

// A unary get (as grpcurl makes) whose gRPC deadline passes is cancelled on
// the server and takes nothing.
TEST_F(ParkedTest, UnaryCallPastItsDeadlineIsCancelledAndTakesNothing) {
  const std::string queue = Unique("queue");
  const std::string token = raw_.Login(server().authkey());
  auto s = Open();
  ASSERT_EQ(Run(*s, "/shoal.v1.Manager/Create", Create(v1::QUEUE, queue)).code(), 0);
  auto stub = v1::QueueService::NewStub(raw_.channel());
  auto context = RawClient::WithToken(token);
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  v1::ValueReply reply;
  grpc::Status status = stub->Get(context.get(), Timed(queue), &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(AwaitWaiting(*s, queue, 0));
  ASSERT_EQ(Run(*s, "/shoal.v1.QueueService/Put", Put(queue, 5)).code(), 0);
  EXPECT_EQ(Parse<v1::IntReply>(Run(*s, "/shoal.v1.QueueService/QSize", Named(queue))).value(), 1);
}

// A unary acquire that waits is granted when the holder's session ends.
TEST_F(ParkedTest, UnaryAcquireIsGrantedWhenTheHolderCloses) {
  const std::string lock = Unique("lock");
  auto holder = Open();
  ASSERT_EQ(Run(*holder, "/shoal.v1.Manager/Create", Create(v1::LOCK, lock)).code(), 0);
  ASSERT_TRUE(Parse<v1::AcquireReply>(Run(*holder, "/shoal.v1.LockService/Acquire", Timed(lock)))
                  .acquired());
  const std::string token = raw_.Login(server().authkey());
  auto stub = v1::LockService::NewStub(raw_.channel());
  auto context = RawClient::WithToken(token);
  v1::AcquireReply reply;
  grpc::CompletionQueue cq;
  auto call = stub->AsyncAcquire(context.get(), Timed(lock), &cq);
  grpc::Status status;
  call->Finish(&reply, &status, reinterpret_cast<void*>(1));
  EXPECT_TRUE(AwaitWaiting(*holder, lock, 1));
  holder->Cancel();  // The holder's stream breaks; its session ends after the grace.
  void* tag = nullptr;
  bool ok = false;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(reply.acquired());
  EXPECT_GE(reply.fencing_token(), 2);
}

}  // namespace
}  // namespace shoal::testing
