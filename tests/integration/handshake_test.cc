// The mutual authkey handshake against a real server, in both directions.
#include "integration/fixture.h"
#include "integration/raw_client.h"
#include "shared/hmac.h"
#include "shoal/v1/list.grpc.pb.h"
#include "shoal/v1/manager.grpc.pb.h"

namespace shoal::testing {
namespace {

class HandshakeTest : public ServerTest {};

TEST_F(HandshakeTest, ClientWithTheKeyConnects) {
  Manager m = Connect();
  EXPECT_FALSE(m.session_id().empty());
}

TEST_F(HandshakeTest, ClientWithAWrongKeyIsRefused) {
  // The library checks the server's proof first, so a wrong key on the
  // client side is caught there; either way it is an AuthenticationError.
  EXPECT_THROW(Manager::connect(server().address(), AuthKey::from_string("wrong")),
               AuthenticationError);
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
  // A server started with another key cannot prove it holds ours.
  ServerProcess impostor;
  EXPECT_THROW(Manager::connect(impostor.address(), AuthKey::from_string(server().authkey())),
               AuthenticationError);
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
