// Bad input gets a precise error naming the Python error kind, the server
// keeps running, and what it holds is unchanged.
#include <grpcpp/generic/generic_stub.h>

#include <condition_variable>
#include <mutex>
#include <vector>

#include "integration/fixture.h"
#include "integration/raw_client.h"
#include "shoal/v1/dict.grpc.pb.h"
#include "shoal/v1/errors.pb.h"
#include "shoal/v1/list.grpc.pb.h"
#include "google/rpc/status.pb.h"

namespace shoal::testing {
namespace {

class ErrorsTest : public ServerTest {
 protected:
  void SetUp() override {
    m_ = Connect();
    raw_ = std::make_unique<RawClient>(server().address());
    token_ = raw_->Login(server().authkey());
    ASSERT_FALSE(token_.empty());
    lists_ = v1::ListService::NewStub(raw_->channel());
  }

  grpc::Status RawAppend(uint64_t id, const v1::Value& item) {
    v1::ItemRequest request;
    request.set_id(id);
    *request.mutable_item() = item;
    v1::EmptyReply reply;
    return lists_->Append(RawClient::WithToken(token_).get(), request, &reply);
  }

  Manager m_;
  std::unique_ptr<RawClient> raw_;
  std::string token_;
  std::unique_ptr<v1::ListService::Stub> lists_;
};

TEST_F(ErrorsTest, UnknownObjectIdIsKeyError) {
  EXPECT_THROW(m_.attach<ListProxy>("list:987654@" + m_.incarnation()), KeyError);
  v1::Value item;
  item.set_int_(1);
  grpc::Status status = RawAppend(987654, item);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(KindOf(status), "KeyError");
}

TEST_F(ErrorsTest, MalformedTokenIsValueError) {
  EXPECT_THROW(m_.attach<ListProxy>("not a token"), ValueError);
}

TEST_F(ErrorsTest, ObjectOfTheWrongKindIsTypeError) {
  DictProxy d = m_.dict({{"k", 1}});
  v1::Value item;
  item.set_int_(1);
  grpc::Status status = RawAppend(d.id(), item);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(KindOf(status), "TypeError");
  EXPECT_NE(status.error_message().find("is a dict, not a list"), std::string::npos);
  EXPECT_EQ(d.len(), 1u);
  EXPECT_THROW(ListProxy(d.ref()), TypeError);
}

TEST_F(ErrorsTest, ReferenceToAMissingObjectIsValueErrorAndStoresNothing) {
  ListProxy l = m_.list(Ints({1}));
  v1::Value ghost;
  ghost.mutable_ref()->set_id(555555);
  ghost.mutable_ref()->set_kind(v1::LIST);
  grpc::Status status = RawAppend(l.id(), ghost);
  EXPECT_EQ(KindOf(status), "ValueError");
  EXPECT_EQ(l.copy(), Ints({1}));
}

TEST_F(ErrorsTest, TooDeeplyNestedValueIsValueError) {
  ListProxy l = m_.list();
  v1::Value deep;
  v1::Value* at = &deep;
  for (int i = 0; i < 200; ++i) at = at->mutable_list()->add_items();
  at->set_int_(1);
  grpc::Status status = RawAppend(l.id(), deep);
  EXPECT_EQ(KindOf(status), "ValueError");
  EXPECT_EQ(l.len(), 0u);
}

TEST_F(ErrorsTest, UnhashableKeyInTheWireFormIsTypeError) {
  DictProxy d = m_.dict();
  auto dicts = v1::DictService::NewStub(raw_->channel());
  v1::SetRequest request;
  request.set_id(d.id());
  request.mutable_key()->mutable_list()->add_items()->set_int_(1);
  request.mutable_value()->set_int_(1);
  v1::EmptyReply reply;
  grpc::Status status = dicts->SetItem(RawClient::WithToken(token_).get(), request, &reply);
  EXPECT_EQ(KindOf(status), "TypeError");
  EXPECT_EQ(d.len(), 0u);
}

TEST_F(ErrorsTest, MalformedRequestBytesAreValueError) {
  ListProxy l = m_.list(Ints({1}));
  grpc::GenericStub generic(raw_->channel());
  const std::string garbage = "\xff\xff\xff\xff\x0f garbage";
  grpc::Slice slice(garbage);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;
  auto context = RawClient::WithToken(token_);
  generic.UnaryCall(context.get(), "/shoal.v1.ListService/Append", grpc::StubOptions(), &request,
                    &response, [&](grpc::Status s) {
                      std::lock_guard<std::mutex> lock(mu);
                      status = s;
                      done = true;
                      done_cv.notify_all();
                    });
  std::unique_lock<std::mutex> lock(mu);
  done_cv.wait(lock, [&] { return done; });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(KindOf(status), "ValueError");
  EXPECT_EQ(l.copy(), Ints({1}));
}

TEST_F(ErrorsTest, ServerKeepsServingAfterBadInput) {
  ListProxy l = m_.list();
  for (int i = 0; i < 20; ++i) {
    EXPECT_THROW(l.get(i), IndexError);
    l.append(i);
    l.append("s");
    EXPECT_THROW(l.sort(), TypeError);
    EXPECT_EQ(l.copy(), (Value::List{i, "s"}));
    l.clear();
  }
  EXPECT_TRUE(server().Running());
  l.append(1);
  EXPECT_EQ(l.len(), 1u);
}

class LimitsTest : public ::testing::Test {};

TEST_F(LimitsTest, ObjectLimitIsLimitError) {
  ServerProcess server({"--max-objects=3"});
  Manager m = Manager::connect(server.address(), AuthKey::from_file(server.authkey_file()));
  ListProxy a = m.list(), b = m.list(), c = m.list();
  EXPECT_THROW(m.list(), LimitError);
  a.append(1);  // the others still work
  EXPECT_EQ(m.object_count(), 3u);
}

TEST_F(LimitsTest, ByteLimitIsLimitErrorAndStoresNothing) {
  ServerProcess server({"--max-bytes=100000"});
  Manager m = Manager::connect(server.address(), AuthKey::from_file(server.authkey_file()));
  ListProxy l = m.list();
  l.append("small");
  EXPECT_THROW(l.append(std::string(200000, 'x')), LimitError);
  EXPECT_THROW(l.extend(Value::List(50, std::string(4000, 'y'))), LimitError);
  EXPECT_EQ(l.copy(), (Value::List{"small"}));
  l.clear();
  l.append(std::string(50000, 'z'));  // room again once cleared
  EXPECT_EQ(l.len(), 1u);
}

// Replies read and not yet acknowledged ride with the next call; a call
// near the message limit must not be pushed past it by them: they go in a
// frame of their own, and the session goes on.
TEST_F(LimitsTest, AcknowledgementsNeverPushACallPastTheMessageLimit) {
  ServerProcess server({"--max-message-bytes=65536"});
  Manager m = Manager::connect(server.address(), AuthKey::from_file(server.authkey_file()));
  ListProxy l = m.list();
  // 800 replies read: 800 acknowledgements wait (a frame of them alone goes
  // at 1,024), some 2.4 KB of them.
  std::vector<Future<void>> appended;
  for (int i = 0; i < 800; ++i) appended.push_back(l.async().append(i));
  for (Future<void>& f : appended) f.get();
  // A call 1 KiB under the limit, which is as large as the client sends.
  l.append(std::string(65536 - 1100, 'x'));
  EXPECT_EQ(l.len(), 801u);
  l.append("after");
  EXPECT_EQ(l.len(), 802u);
}

TEST_F(LimitsTest, OversizedMessageIsRefused) {
  ServerProcess server({"--max-message-bytes=65536"});
  RawClient raw(server.address());
  std::string token = raw.Login(server.authkey());
  auto lists = v1::ListService::NewStub(raw.channel());
  Manager m = Manager::connect(server.address(), AuthKey::from_file(server.authkey_file()));
  ListProxy l = m.list();
  v1::ItemRequest request;
  request.set_id(l.id());
  request.mutable_item()->set_str(std::string(100000, 'x'));
  v1::EmptyReply reply;
  grpc::Status status = lists->Append(RawClient::WithToken(token).get(), request, &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(l.len(), 0u);
  // The client library refuses it before sending, and its session goes on.
  EXPECT_THROW(l.append(std::string(100000, 'x')), LimitError);
  l.append("fits");
  EXPECT_EQ(l.len(), 1u);
}

TEST_F(LimitsTest, AReplyPastTheMessageLimitIsLimitErrorAndTheSessionGoesOn) {
  ServerProcess server({"--max-message-bytes=65536"});
  Manager m = Manager::connect(server.address(), AuthKey::from_file(server.authkey_file()));
  ListProxy l = m.list();
  // Each item fits a message; the three together do not.
  for (int i = 0; i < 3; ++i) l.append(std::string(30000, 'x'));
  try {
    l.copy();
    ADD_FAILURE() << "a reply of 90,000 bytes came through a limit of 65,536";
  } catch (const LimitError& e) {
    EXPECT_NE(std::string(e.what()).find("the reply would take"), std::string::npos) << e.what();
  }
  // The session stream goes on, and the list is whole.
  EXPECT_EQ(l.len(), 3u);
  EXPECT_EQ(l.slice(0, 1).size(), 1u);

  // The same on a unary gRPC call.
  RawClient raw(server.address());
  std::string token = raw.Login(server.authkey());
  auto lists = v1::ListService::NewStub(raw.channel());
  v1::ObjectRequest request;
  request.set_id(l.id());
  v1::ValueReply reply;
  grpc::Status status = lists->Copy(RawClient::WithToken(token).get(), request, &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("the reply would take"), std::string::npos)
      << status.error_message();
  EXPECT_EQ(l.len(), 3u);
}

}  // namespace
}  // namespace shoal::testing
