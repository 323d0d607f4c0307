// The mutual authkey handshake against a real server, in both directions.
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <atomic>
#include <memory>
#include <string>

#include "integration/error_of.h"
#include "integration/fixture.h"
#include "integration/raw_client.h"
#include "shared/hmac.h"
#include "shoal/v1/auth.grpc.pb.h"
#include "shoal/v1/list.grpc.pb.h"
#include "shoal/v1/manager.grpc.pb.h"

namespace shoal::testing {
namespace {

class HandshakeTest : public ServerTest {};

TEST_F(HandshakeTest, ClientWithTheKeyConnects) {
  Manager m = Connect();
  EXPECT_FALSE(m.session_id().empty());
}

// The message of the AuthenticationError that connecting to address with
// key throws ("" and a failure when it throws something else, or nothing).
std::string AuthenticationErrorOf(const std::string& address, const AuthKey& key) {
  return ErrorOf<AuthenticationError>([&] { Manager::connect(address, key); });
}

constexpr char kRefused[] = "the server refused our authkey (wrong key?)";
constexpr char kNotProved[] =
    "the server could not prove it knows the authkey (wrong server or wrong key?)";

TEST_F(HandshakeTest, ClientWithAWrongKeyIsRefused) {
  // The server's proof fails too, but the server's refusal of ours says more.
  const std::string message =
      AuthenticationErrorOf(server().address(), AuthKey::from_string("wrong"));
  EXPECT_NE(message.find(kRefused), std::string::npos) << message;
}

// A fake Auth service: its proofs are made up, and it takes any answer.
class FakeAuth final : public v1::Auth::Service {
 public:
  grpc::Status Challenge(grpc::ServerContext*, const v1::ChallengeRequest*,
                         v1::ChallengeReply* reply) override {
    reply->set_challenge_id("fake");
    reply->set_server_nonce(std::string(32, 'n'));
    reply->set_server_proof(std::string(32, 'p'));
    return grpc::Status::OK;
  }
  grpc::Status Answer(grpc::ServerContext*, const v1::AnswerRequest*,
                      v1::AnswerReply* reply) override {
    answers_.fetch_add(1);
    reply->set_session_id("fake");
    reply->set_token("fake-token");
    return grpc::Status::OK;
  }
  int answers() const { return answers_.load(); }

 private:
  std::atomic<int> answers_{0};
};

TEST_F(HandshakeTest, ClientRefusesAFakeServerThatTakesAnyKey) {
  FakeAuth fake;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&fake);
  std::unique_ptr<grpc::Server> fake_server = builder.BuildAndStart();
  ASSERT_NE(fake_server, nullptr);
  const std::string message = AuthenticationErrorOf("127.0.0.1:" + std::to_string(port),
                                                    AuthKey::from_string(server().authkey()));
  EXPECT_NE(message.find(kNotProved), std::string::npos) << message;
  EXPECT_EQ(fake.answers(), 1);  // Accepted, yet the session is not used.
  fake_server->Shutdown();
}

TEST_F(HandshakeTest, ServerRefusesAWrongClientProof) {
  RawClient raw(server().address());
  RawChallenge challenge = raw.Challenge();
  ASSERT_FALSE(challenge.reply.challenge_id().empty());
  grpc::Status status = raw.Answer(challenge, "wrong-key", nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(status.error_message().find("AuthenticationError"), std::string::npos);
}

TEST_F(HandshakeTest, ServerProvesItHoldsTheKey) {
  RawClient raw(server().address());
  RawChallenge challenge = raw.Challenge();
  EXPECT_EQ(challenge.reply.server_proof(),
            ServerProof(server().authkey(), challenge.client_nonce,
                        challenge.reply.server_nonce()));
  EXPECT_NE(challenge.reply.server_proof(),
            ServerProof("other", challenge.client_nonce, challenge.reply.server_nonce()));
}

TEST_F(HandshakeTest, ClientRefusesAServerWithoutTheKey) {
  // A shoal server started with another key cannot prove it holds ours, and
  // refuses ours: from either side, a wrong key.
  ServerProcess impostor;
  const std::string message =
      AuthenticationErrorOf(impostor.address(), AuthKey::from_string(server().authkey()));
  EXPECT_NE(message.find(kRefused), std::string::npos) << message;
}

TEST_F(HandshakeTest, ReplayedChallengeIsRefused) {
  RawClient raw(server().address());
  RawChallenge challenge = raw.Challenge();
  std::string token;
  ASSERT_TRUE(raw.Answer(challenge, server().authkey(), &token).ok());
  EXPECT_FALSE(token.empty());
  grpc::Status replay = raw.Answer(challenge, server().authkey(), nullptr);
  EXPECT_EQ(replay.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(HandshakeTest, CallsWithoutAValidTokenAreUnauthenticated) {
  RawClient raw(server().address());
  auto manager = v1::Manager::NewStub(raw.channel());
  auto list = v1::ListService::NewStub(raw.channel());
  v1::ListObjectsReply objects;
  {
    grpc::ClientContext no_token;
    EXPECT_EQ(manager->ListObjects(&no_token, {}, &objects).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  std::string token = raw.Login(server().authkey());
  ASSERT_FALSE(token.empty());
  std::string forged = token;
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_EQ(manager->ListObjects(RawClient::WithToken(forged).get(), {}, &objects).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  v1::ItemRequest append;
  append.set_id(1);
  v1::EmptyReply empty;
  EXPECT_EQ(list->Append(RawClient::WithToken(forged).get(), append, &empty).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(manager->ListObjects(RawClient::WithToken(token).get(), {}, &objects).ok());
}

}  // namespace
}  // namespace shoal::testing
