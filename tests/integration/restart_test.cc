// Tokens across a restart of the server. Object ids count from 1 again at
// every start, so a token taken before a restart has an id that another
// client's new object may have now; the incarnation in the token keeps it
// from naming that object: attaching it is refused with KeyError, never
// resolved. Runs on both transports of the session stream (the framed one,
// and gRPC's as grpc_stream.RestartTest.*).
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>

#include <cctype>
#include <memory>
#include <string>
#include <vector>

#include "integration/error_of.h"
#include "integration/fixture.h"
#include "integration/raw_client.h"
#include "shoal/v1/errors.pb.h"
#include "shoal/v1/manager.grpc.pb.h"
#include "google/rpc/status.pb.h"

namespace shoal::testing {
namespace {

using ::testing::HasSubstr;

// A server on the address and with the authkey of one that was stopped: the
// same server, started again.
std::unique_ptr<ServerProcess> Restart(const ServerProcess& stopped) {
  ServerProcess::Options options;
  options.listen = stopped.address();
  options.args = {"--authkey-file=" + stopped.authkey_file()};
  return std::make_unique<ServerProcess>(options);
}

Manager ConnectTo(const ServerProcess& server, const ServerProcess& keyed_as) {
  return Manager::connect(server.address(), AuthKey::from_file(keyed_as.authkey_file()));
}

// What each test keeps from the server's first start.
struct BeforeRestart {
  std::string incarnation;
  std::string list_token;
  uint64_t list_id = 0;
  std::string queue_token;
};

class RestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    first_ = std::make_unique<ServerProcess>();
    {
      Manager a = ConnectTo(*first_, *first_);
      ListProxy input = a.list(Value::List{"job input of tenant A"});
      QueueProxy jobs = a.Queue();
      before_.incarnation = a.incarnation();
      before_.list_token = input.token();
      before_.list_id = input.id();
      before_.queue_token = jobs.token();
      // Attached before the restart, the token works.
      Manager worker = ConnectTo(*first_, *first_);
      ASSERT_EQ(Value(worker.attach<ListProxy>(before_.list_token).copy()),
                Value(Value::List{"job input of tenant A"}));
    }
    first_->Stop();
    second_ = Restart(*first_);
    ASSERT_EQ(second_->address(), first_->address());
  }

  Manager Connect() const { return ConnectTo(*second_, *first_); }

  std::unique_ptr<ServerProcess> first_;
  std::unique_ptr<ServerProcess> second_;
  BeforeRestart before_;
};

TEST_F(RestartTest, TheTokenNamesTheServersIncarnation) {
  EXPECT_EQ(before_.list_token,
            "list:" + std::to_string(before_.list_id) + "@" + before_.incarnation);
  EXPECT_EQ(before_.incarnation.size(), 16u);
  Manager b = Connect();
  EXPECT_EQ(b.incarnation().size(), 16u);
  EXPECT_NE(b.incarnation(), before_.incarnation);
}

TEST_F(RestartTest, AStaleTokenIsRefusedWhenItsIdNamesAnotherObjectNow) {
  Manager b = Connect();
  // Another client's new objects take the ids again, up to the stale one's.
  std::vector<ListProxy> lists;
  while (lists.empty() || lists.back().id() < before_.list_id) {
    lists.push_back(b.list(Value::List{"unrelated data of B"}));
  }
  ASSERT_EQ(lists.back().id(), before_.list_id);
  ListProxy same_id = lists.back();

  Manager worker = Connect();
  const std::string message =
      ErrorOf<KeyError>([&] { worker.attach<ListProxy>(before_.list_token); });
  EXPECT_EQ(message, "token " + before_.list_token + " is from another start of the server (now " +
                         worker.incarnation() + "); the object it named is gone");
  EXPECT_THAT(ErrorOf<KeyError>([&] { worker.attach<QueueProxy>(before_.queue_token); }),
              HasSubstr("is from another start of the server"));
  // Nothing was attached: B's list is as it was, and held by B alone.
  EXPECT_EQ(Value(same_id.copy()), Value(Value::List{"unrelated data of B"}));
  EXPECT_EQ(b.describe(same_id.id()).session_refs, 1);

  // A token of this start attaches, the same id included.
  ListProxy attached = worker.attach<ListProxy>(same_id.token());
  EXPECT_EQ(attached.id(), before_.list_id);
  attached.append("seen by the worker");
  EXPECT_EQ(same_id.len(), 2u);
}

TEST_F(RestartTest, ATokenWithoutItsIncarnationIsMalformed) {
  Manager b = Connect();
  ListProxy mine = b.list(Value::List{1});
  const std::string bare = "list:" + std::to_string(mine.id());
  EXPECT_THAT(ErrorOf<ValueError>([&] { b.attach<ListProxy>(bare); }),
              HasSubstr("expected kind:id@incarnation"));
  EXPECT_THAT(ErrorOf<ValueError>([&] { b.attach<ListProxy>(bare + "@"); }),
              HasSubstr("not 16 hex digits"));
  // The incarnation may come in capitals.
  std::string upper = mine.token();
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  upper.replace(0, 4, "list");
  EXPECT_EQ(Value(b.attach<ListProxy>(upper).copy()), Value(Value::List{1}));
}

// The server checks the incarnation itself, for every client: a plain
// Manager/Lookup with the stale incarnation, as grpcurl would send it.
TEST_F(RestartTest, TheServerRefusesALookupOfAnotherIncarnation) {
  Manager b = Connect();
  std::vector<ListProxy> lists;
  while (lists.empty() || lists.back().id() < before_.list_id) lists.push_back(b.list());
  RawClient raw(second_->address());
  const std::string token = raw.Login(first_->authkey());
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(raw.last_answer().incarnation(), b.incarnation());
  auto manager = v1::Manager::NewStub(raw.channel());

  v1::LookupRequest request;
  request.set_id(before_.list_id);
  request.set_incarnation(before_.incarnation);
  v1::LookupReply reply;
  grpc::Status status = manager->Lookup(RawClient::WithToken(token).get(), request, &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(KindOf(status), "KeyError");
  EXPECT_EQ(status.error_message(),
            "KeyError: object " + std::to_string(before_.list_id) + "@" + before_.incarnation +
                " is from another start of the server (this is " + b.incarnation() +
                "); the object it named is gone");

  request.set_incarnation("not hex");
  status = manager->Lookup(RawClient::WithToken(token).get(), request, &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(KindOf(status), "ValueError");

  // This start's incarnation, or none (an id given as of this start).
  request.set_incarnation(b.incarnation());
  status = manager->Lookup(RawClient::WithToken(token).get(), request, &reply);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.ref().id(), before_.list_id);
  request.clear_incarnation();
  status = manager->Lookup(RawClient::WithToken(token).get(), request, &reply);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.ref().id(), before_.list_id);
}

}  // namespace
}  // namespace shoal::testing
