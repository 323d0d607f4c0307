// The handshake on the framed transport: a connection that logs in by
// itself, in its first two frames, without gRPC (how a forked child logs
// in). The server's half is spoken byte by byte on a real socket; the
// client's half (detail::LogInFramed) meets a real server with another key
// and a fake server that takes any key.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "client/src/handshake.h"
#include "client/src/session_stream.h"
#include "integration/error_of.h"
#include "integration/fixture.h"
#include "integration/framed_socket.h"
#include "integration/raw_client.h"
#include "shared/hmac.h"
#include "shoal/v1/manager.pb.h"
#include "shoal/v1/session.pb.h"

namespace shoal::testing {
namespace {

v1::ClientFrame ChallengeFrame(const std::string& client_nonce) {
  v1::ClientFrame frame;
  frame.mutable_challenge()->set_client_nonce(client_nonce);
  return frame;
}

v1::ClientFrame AnswerFrame(const std::string& key, const std::string& client_nonce,
                            const v1::ChallengeReply& challenge, const std::string& name) {
  v1::ClientFrame frame;
  *frame.mutable_answer() = detail::AnswerFor(key, client_nonce, challenge, name);
  return frame;
}

std::chrono::system_clock::time_point InTenSeconds() {
  return std::chrono::system_clock::now() + std::chrono::seconds(10);
}

class FramedLoginTest : public ServerTest {
 protected:
  // The framed port the server offers.
  static uint32_t FramedPort(const ServerProcess& server) {
    RawClient raw(server.address());
    EXPECT_FALSE(raw.Login(server.authkey()).empty());
    return raw.last_answer().framed().port();
  }

  // Opens a connection, asks for a challenge for nonce, and reads it.
  static v1::ChallengeReply Challenge(FramedSocket& socket, const std::string& nonce) {
    EXPECT_TRUE(socket.Write(ChallengeFrame(nonce)));
    v1::ServerFrame reply;
    EXPECT_TRUE(socket.Read(&reply));
    EXPECT_TRUE(reply.has_challenge()) << reply.ShortDebugString();
    return reply.challenge();
  }

  // Sends frame as a connection's first, or after a challenge when
  // challenge_first; expects the server to end the connection with code
  // and words, and to go on serving.
  void ExpectRefused(const v1::ClientFrame& frame, bool challenge_first, grpc::StatusCode code,
                     const std::string& words) {
    FramedSocket socket(FramedPort(server()));
    ASSERT_TRUE(socket.connected());
    if (challenge_first) Challenge(socket, RandomBytes(32));
    ASSERT_TRUE(socket.Write(frame));
    v1::StreamEnd end = socket.ReadUntilEnd();
    EXPECT_EQ(end.code(), static_cast<int>(code)) << end.message();
    EXPECT_NE(end.message().find(words), std::string::npos) << end.message();
    EXPECT_TRUE(socket.AtEnd());
    Manager m = Connect();
    EXPECT_FALSE(m.session_id().empty());
  }
};

TEST_F(FramedLoginTest, AConnectionLogsInInItsFirstTwoFrames) {
  const uint32_t port = FramedPort(server());
  FramedSocket socket(port);
  ASSERT_TRUE(socket.connected());
  const std::string nonce = RandomBytes(32);
  const v1::ChallengeReply challenge = Challenge(socket, nonce);
  // The server proves it holds the key, as on gRPC.
  EXPECT_EQ(challenge.server_proof(),
            ServerProof(server().authkey(), nonce, challenge.server_nonce()));
  // The answer's frame may carry calls: they are answered after the login.
  v1::ClientFrame answer = AnswerFrame(server().authkey(), nonce, challenge, "framed-login-test");
  v1::Call* call = answer.add_calls();
  call->set_call_id(1);
  call->set_method("/shoal.v1.Manager/ListSessions");
  call->set_request(v1::ListSessionsRequest().SerializeAsString());
  ASSERT_TRUE(socket.Write(answer));
  v1::ServerFrame frame;
  ASSERT_TRUE(socket.Read(&frame));
  ASSERT_TRUE(frame.has_answer()) << frame.ShortDebugString();
  const v1::AnswerReply login = frame.answer();
  EXPECT_FALSE(login.session_id().empty());
  EXPECT_FALSE(login.token().empty());
  EXPECT_GT(login.max_message_bytes(), 0);
  EXPECT_EQ(login.framed().port(), port);
  // The server's incarnation, the same as a login on gRPC tells.
  EXPECT_EQ(login.incarnation().size(), 16u);
  EXPECT_EQ(login.incarnation(),
            shoal::login(server().address(), AuthKey::from_file(server().authkey_file()))
                .incarnation);
  EXPECT_EQ(frame.replies_size(), 0);
  ASSERT_TRUE(socket.Read(&frame));
  ASSERT_EQ(frame.replies_size(), 1);
  ASSERT_EQ(frame.replies(0).code(), 0) << frame.replies(0).error_message();
  v1::ListSessionsReply sessions;
  ASSERT_TRUE(sessions.ParseFromString(frame.replies(0).response()));
  bool listed = false;
  for (const v1::SessionInfo& session : sessions.sessions()) {
    if (std::to_string(session.id()) != login.session_id()) continue;
    listed = true;
    EXPECT_EQ(session.client(), "framed-login-test");
    EXPECT_EQ(session.streams(), 1);  // this connection
    EXPECT_EQ(session.peer().rfind("ipv4:127.0.0.1:", 0), 0u) << session.peer();
  }
  EXPECT_TRUE(listed) << sessions.ShortDebugString();
}

TEST_F(FramedLoginTest, AWrongKeyIsRefused) {
  FramedSocket socket(FramedPort(server()));
  ASSERT_TRUE(socket.connected());
  const std::string nonce = RandomBytes(32);
  const v1::ChallengeReply challenge = Challenge(socket, nonce);
  ASSERT_TRUE(socket.Write(AnswerFrame("wrong-key", nonce, challenge, "intruder")));
  v1::StreamEnd end = socket.ReadUntilEnd();
  EXPECT_EQ(end.code(), static_cast<int>(grpc::StatusCode::UNAUTHENTICATED));
  EXPECT_NE(end.message().find("AuthenticationError"), std::string::npos) << end.message();
  EXPECT_NE(end.message().find("wrong authkey"), std::string::npos) << end.message();
  EXPECT_TRUE(socket.AtEnd());
}

// One mechanism on both ports: a challenge issued on either is redeemed once,
// on either.
TEST_F(FramedLoginTest, AChallengeIsRedeemedOnceWhicheverPortCarriesIt) {
  const uint32_t port = FramedPort(server());
  {
    // Issued and redeemed on gRPC, replayed on the framed transport.
    RawClient raw(server().address());
    RawChallenge challenge = raw.Challenge();
    std::string token;
    ASSERT_TRUE(raw.Answer(challenge, server().authkey(), &token).ok());
    FramedSocket socket(port);
    ASSERT_TRUE(socket.connected());
    Challenge(socket, RandomBytes(32));
    ASSERT_TRUE(socket.Write(
        AnswerFrame(server().authkey(), challenge.client_nonce, challenge.reply, "replay")));
    v1::StreamEnd end = socket.ReadUntilEnd();
    EXPECT_EQ(end.code(), static_cast<int>(grpc::StatusCode::UNAUTHENTICATED));
    EXPECT_NE(end.message().find("challenge already used"), std::string::npos) << end.message();
  }
  {
    // Issued on the framed transport, redeemed on gRPC, replayed there.
    FramedSocket socket(port);
    ASSERT_TRUE(socket.connected());
    RawChallenge challenge;
    challenge.client_nonce = RandomBytes(32);
    challenge.reply = Challenge(socket, challenge.client_nonce);
    RawClient raw(server().address());
    std::string token;
    ASSERT_TRUE(raw.Answer(challenge, server().authkey(), &token).ok());
    EXPECT_FALSE(token.empty());
    ASSERT_TRUE(socket.Write(
        AnswerFrame(server().authkey(), challenge.client_nonce, challenge.reply, "replay")));
    v1::StreamEnd end = socket.ReadUntilEnd();
    EXPECT_EQ(end.code(), static_cast<int>(grpc::StatusCode::UNAUTHENTICATED));
    EXPECT_NE(end.message().find("challenge already used"), std::string::npos) << end.message();
  }
}

TEST_F(FramedLoginTest, AChallengeFrameCarriesNothingElse) {
  v1::ClientFrame frame = ChallengeFrame(RandomBytes(32));
  frame.set_token("a-token");
  ExpectRefused(frame, /*challenge_first=*/false, grpc::StatusCode::INVALID_ARGUMENT,
                "ValueError: a frame that asks for a challenge carries nothing else");
}

TEST_F(FramedLoginTest, AChallengeForANonceOfTheWrongSizeIsRefused) {
  ExpectRefused(ChallengeFrame("short"), /*challenge_first=*/false,
                grpc::StatusCode::INVALID_ARGUMENT, "ValueError");
}

TEST_F(FramedLoginTest, AnAnswerComesAfterItsChallenge) {
  v1::ClientFrame frame;
  frame.mutable_answer()->set_challenge_id("no-challenge-asked");
  ExpectRefused(frame, /*challenge_first=*/false, grpc::StatusCode::INVALID_ARGUMENT,
                "ValueError: an answer comes in the frame after its challenge");
}

TEST_F(FramedLoginTest, TheFrameAfterAChallengeIsItsAnswer) {
  v1::ClientFrame frame;
  frame.set_token("a-token");
  ExpectRefused(frame, /*challenge_first=*/true, grpc::StatusCode::UNAUTHENTICATED,
                "AuthenticationError: the frame after a challenge must carry its answer");
}

// A framed server that takes any key: its proof is made up, and it opens a
// "session" for whatever answer comes. Serves one connection.
class FakeFramedServer {
 public:
  FakeFramedServer() {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(listener_, 1);
    socklen_t size = sizeof(addr);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &size);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeFramedServer() {
    shutdown(listener_, SHUT_RDWR);
    thread_.join();
    close(listener_);
  }

  uint32_t port() const { return port_; }
  int answers() const { return answers_.load(); }

 private:
  void Serve() {
    const int fd = accept(listener_, nullptr, nullptr);
    if (fd < 0) return;
    v1::ServerFrame challenge;
    challenge.mutable_challenge()->set_challenge_id("fake");
    challenge.mutable_challenge()->set_server_nonce(std::string(32, 'n'));
    challenge.mutable_challenge()->set_server_proof(std::string(32, 'p'));
    v1::ServerFrame answer;
    answer.mutable_answer()->set_session_id("1");
    answer.mutable_answer()->set_token("fake-token");
    // Reads the client's frames one by one; answers the first two.
    std::string in;
    char buffer[4096];
    int frames = 0;
    for (;;) {
      const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      in.append(buffer, static_cast<size_t>(n));
      while (in.size() >= kFrameHeaderBytes &&
             in.size() >= kFrameHeaderBytes + ReadFrameHeader(in.data())) {
        in.erase(0, kFrameHeaderBytes + ReadFrameHeader(in.data()));
        std::string out;
        if (++frames == 1) AppendFrame(challenge, &out);
        if (frames == 2) {
          answers_.fetch_add(1);
          AppendFrame(answer, &out);
        }
        if (!out.empty()) send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      }
    }
    close(fd);
  }

  int listener_ = -1;
  uint32_t port_ = 0;
  std::atomic<int> answers_{0};
  std::thread thread_;
};

TEST_F(FramedLoginTest, TheClientRefusesAFakeServerThatTakesAnyKey) {
  FakeFramedServer fake;
  v1::FramedEndpoint endpoint;
  endpoint.set_port(fake.port());
  const std::string message = ErrorOf<AuthenticationError>([&] {
    detail::LogInFramed("127.0.0.1:1", endpoint, server().authkey(), "client", InTenSeconds());
  });
  EXPECT_NE(message.find(std::string(detail::kServerNotProved)), std::string::npos) << message;
  EXPECT_EQ(fake.answers(), 1);  // Accepted, yet the session is not used.
}

TEST_F(FramedLoginTest, TheClientAndAServerWithAnotherKeyRefuseEachOther) {
  ServerProcess impostor;
  v1::FramedEndpoint endpoint;
  endpoint.set_port(FramedPort(impostor));
  const std::string message = ErrorOf<AuthenticationError>([&] {
    detail::LogInFramed(impostor.address(), endpoint, server().authkey(), "client",
                        InTenSeconds());
  });
  EXPECT_NE(message.find(std::string(detail::kRefusedOurKey)), std::string::npos) << message;
}

TEST_F(FramedLoginTest, TheClientLogsInWithTheKey) {
  v1::FramedEndpoint endpoint;
  endpoint.set_port(FramedPort(server()));
  detail::FramedLogin login = detail::LogInFramed(server().address(), endpoint, server().authkey(),
                                                  "client", InTenSeconds());
  EXPECT_FALSE(login.answer.session_id().empty());
  ASSERT_NE(login.stream, nullptr);
  // The stream is the session's: a call on it is answered.
  v1::ClientFrame frame;
  v1::Call* call = frame.add_calls();
  call->set_call_id(7);
  call->set_method("/shoal.v1.Manager/ListObjects");
  call->set_request(v1::ListObjectsRequest().SerializeAsString());
  ASSERT_TRUE(login.stream->Write(frame));
  ServerFrameView reply;
  ASSERT_TRUE(login.stream->Read(&reply));
  ASSERT_EQ(reply.replies.size(), 1u);
  EXPECT_EQ(reply.replies[0].call_id, 7u);
  EXPECT_EQ(reply.replies[0].code, 0) << reply.replies[0].error_message;
}

}  // namespace
}  // namespace shoal::testing
