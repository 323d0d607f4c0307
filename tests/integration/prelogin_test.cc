// What a peer without the authkey can do to the server before it logs in:
// neither fill its memory nor lock the clients that hold the key out.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/fixture.h"
#include "integration/framed_socket.h"
#include "integration/raw_client.h"
#include "shared/hmac.h"
#include "shoal/v1/manager.pb.h"

namespace shoal::testing {
namespace {

using Clock = std::chrono::steady_clock;

v1::ClientFrame Hello(const std::string& token) {
  v1::ClientFrame frame;
  frame.set_token(token);
  return frame;
}

// A connection's first frame when it logs in by itself: a challenge.
v1::ClientFrame ChallengeFrame() {
  v1::ClientFrame frame;
  frame.mutable_challenge()->set_client_nonce(RandomBytes(32));
  return frame;
}

// Asks for a challenge on socket and reads it.
v1::ChallengeReply Challenge(FramedSocket& socket, const std::string& nonce) {
  v1::ClientFrame frame;
  frame.mutable_challenge()->set_client_nonce(nonce);
  EXPECT_TRUE(socket.Write(frame));
  v1::ServerFrame reply;
  EXPECT_TRUE(socket.Read(&reply));
  EXPECT_TRUE(reply.has_challenge()) << reply.ShortDebugString();
  return reply.challenge();
}

// The bytes of a frame header announcing a message of size bytes.
std::string Header(uint32_t size) {
  return std::string{static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                     static_cast<char>(size >> 8), static_cast<char>(size)};
}

// The framed port a server offers at login.
uint32_t FramedPort(const ServerProcess& server) {
  RawClient raw(server.address());
  EXPECT_FALSE(raw.Login(server.authkey()).empty());
  return raw.last_answer().framed().port();
}

// The bytes the server has not read yet on its end of each connection from
// the given client ports to server_port, from /proc/net/tcp (the test and the
// server share the network namespace); -1 for a connection not listed.
std::vector<long> ServerUnread(uint32_t server_port, const std::vector<uint16_t>& client_ports) {
  std::vector<long> unread(client_ports.size(), -1);
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // the heading
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues;
    fields >> slot >> local >> remote >> state >> queues;
    const unsigned long local_port = std::stoul(local.substr(local.find(':') + 1), nullptr, 16);
    const unsigned long remote_port = std::stoul(remote.substr(remote.find(':') + 1), nullptr, 16);
    if (local_port != server_port) continue;
    for (size_t i = 0; i < client_ports.size(); ++i) {
      if (remote_port == client_ports[i]) {
        unread[i] = std::stol(queues.substr(queues.find(':') + 1), nullptr, 16);
      }
    }
  }
  return unread;
}

// Waits (at most 30 s) until the server has read every byte sent on the
// connections from client_ports: the event its memory would grow on.
::testing::AssertionResult AwaitServerRead(uint32_t server_port,
                                           const std::vector<uint16_t>& client_ports) {
  const auto give_up = Clock::now() + std::chrono::seconds(30);
  std::vector<long> unread;
  for (;;) {
    unread = ServerUnread(server_port, client_ports);
    if (std::all_of(unread.begin(), unread.end(), [](long n) { return n == 0; })) {
      return ::testing::AssertionSuccess();
    }
    if (Clock::now() > give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::testing::AssertionResult failure = ::testing::AssertionFailure();
  failure << "the server has not read every connection; unread bytes:";
  for (long n : unread) failure << " " << n;
  return failure;
}

// Whether nothing has arrived on socket yet: not its end, not a frame.
bool Quiet(int fd) {
  pollfd waiting{fd, POLLIN, 0};
  return poll(&waiting, 1, 0) == 0;
}

// The server still serves a client that holds the key, over the framed
// transport, and what that client does works.
void ExpectServes(const ServerProcess& server, const std::string& name) {
  ConnectOptions options;
  options.transport = Transport::kFramed;
  Manager m = Manager::connect(server.address(), AuthKey::from_file(server.authkey_file()),
                               options);
  ListProxy list = m.list(Ints({1, 2}), name);
  list.append(3);
  EXPECT_EQ(list.copy(), Value(Ints({1, 2, 3})));
}

constexpr int kConnections = 50;
constexpr uint32_t kAnnounced = 16 << 20;
// Far less than kConnections frames of kAnnounced bytes (800 MiB).
constexpr long kMaxGrowthKiB = 20 << 10;

TEST(PreLoginTest, AnnouncedFramesBeforeLoginCostNoMemory) {
  ServerProcess server;
  const uint32_t port = FramedPort(server);
  ExpectServes(server, "warm-up");
  const long before = server.ResidentKiB();
  std::vector<std::unique_ptr<FramedSocket>> sockets;
  for (int i = 0; i < kConnections; ++i) {
    sockets.push_back(std::make_unique<FramedSocket>(port));
    ASSERT_TRUE(sockets.back()->connected());
    ASSERT_TRUE(sockets.back()->WriteBytes(Header(kAnnounced) + "abc"));
    ASSERT_TRUE(sockets.back()->WriteBytes("def"));
  }
  // Each is refused as soon as its header is read: a first frame is small.
  for (auto& socket : sockets) {
    v1::StreamEnd end = socket->ReadUntilEnd();
    EXPECT_EQ(end.code(), static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
    EXPECT_NE(end.message().find("LimitError"), std::string::npos) << end.message();
    EXPECT_NE(end.message().find("first frame"), std::string::npos) << end.message();
    EXPECT_TRUE(socket->AtEnd());
  }
  const long growth = server.ResidentKiB() - before;
  std::printf("server RSS growth after %d refused 16 MiB first frames: %ld KiB\n", kConnections,
              growth);
  EXPECT_LT(growth, kMaxGrowthKiB);
  ExpectServes(server, "after");
}

TEST(PreLoginTest, AnnouncedFramesCostOnlyWhatArrived) {
  // Logged-in connections may announce frames up to the message limit; the
  // server still holds only what arrived of them.
  ServerProcess server;
  const uint32_t port = FramedPort(server);
  std::vector<std::unique_ptr<FramedSocket>> sockets;
  std::vector<uint16_t> client_ports;
  for (int i = 0; i < kConnections; ++i) {
    RawClient raw(server.address());
    const std::string token = raw.Login(server.authkey());
    ASSERT_FALSE(token.empty());
    sockets.push_back(std::make_unique<FramedSocket>(port));
    FramedSocket& socket = *sockets.back();
    ASSERT_TRUE(socket.connected());
    // A call in the first frame, answered, shows the connection logged in.
    v1::ClientFrame hello = Hello(token);
    v1::Call* call = hello.add_calls();
    call->set_call_id(1);
    call->set_method("/shoal.v1.Manager/ListSessions");
    call->set_request(v1::ListSessionsRequest().SerializeAsString());
    ASSERT_TRUE(socket.Write(hello));
    v1::ServerFrame reply;
    ASSERT_TRUE(socket.Read(&reply));
    ASSERT_EQ(reply.replies_size(), 1);
    ASSERT_EQ(reply.replies(0).code(), 0) << reply.replies(0).error_message();
    client_ports.push_back(socket.local_port());
  }
  // What the logins and connections cost is counted before; what follows is
  // the frames alone, in two reads each: the header, then more of the frame.
  const long before = server.ResidentKiB();
  for (auto& socket : sockets) ASSERT_TRUE(socket->WriteBytes(Header(kAnnounced) + "abc"));
  ASSERT_TRUE(AwaitServerRead(port, client_ports));
  for (auto& socket : sockets) ASSERT_TRUE(socket->WriteBytes("def"));
  ASSERT_TRUE(AwaitServerRead(port, client_ports));
  const long growth = server.ResidentKiB() - before;
  std::printf("server RSS growth with %d logged-in connections each into a 16 MiB frame: %ld KiB\n",
              kConnections, growth);
  EXPECT_LT(growth, kMaxGrowthKiB);
  for (auto& socket : sockets) EXPECT_TRUE(Quiet(socket->fd()));
  ExpectServes(server, "after");
}

TEST(PreLoginTest, AFirstFramePastTheLoginLimitIsRefused) {
  ServerProcess server;
  const uint32_t port = FramedPort(server);
  {
    // 5000 bytes of token: past the 4 KiB a first frame may hold.
    FramedSocket socket(port);
    ASSERT_TRUE(socket.connected());
    ASSERT_TRUE(socket.Write(Hello(std::string(5000, 't'))));
    v1::StreamEnd end = socket.ReadUntilEnd();
    EXPECT_EQ(end.code(), static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
    EXPECT_NE(end.message().find("LimitError"), std::string::npos) << end.message();
    EXPECT_NE(end.message().find("before it has logged in"), std::string::npos) << end.message();
    EXPECT_NE(end.message().find("4096"), std::string::npos) << end.message();
    EXPECT_TRUE(socket.AtEnd());
  }
  {
    // A first frame of 4000 bytes is read: its token is then refused.
    FramedSocket socket(port);
    ASSERT_TRUE(socket.connected());
    ASSERT_TRUE(socket.Write(Hello(std::string(4000, 't'))));
    v1::StreamEnd end = socket.ReadUntilEnd();
    EXPECT_EQ(end.code(), static_cast<int>(grpc::StatusCode::UNAUTHENTICATED)) << end.message();
  }
  ExpectServes(server, "after");
}

TEST(PreLoginTest, TheHandshakesFramesArePastTheLoginLimitToo) {
  ServerProcess server;
  const uint32_t port = FramedPort(server);
  {
    // A challenge frame of 5000 bytes.
    FramedSocket socket(port);
    ASSERT_TRUE(socket.connected());
    v1::ClientFrame frame = ChallengeFrame();
    frame.mutable_challenge()->set_client_nonce(std::string(5000, 'n'));
    ASSERT_TRUE(socket.Write(frame));
    v1::StreamEnd end = socket.ReadUntilEnd();
    EXPECT_EQ(end.code(), static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
    EXPECT_NE(end.message().find("before it has logged in"), std::string::npos) << end.message();
    EXPECT_TRUE(socket.AtEnd());
  }
  {
    // A right answer, but 5000 bytes of it: the second frame is still read
    // with the login limit.
    FramedSocket socket(port);
    ASSERT_TRUE(socket.connected());
    const std::string nonce = RandomBytes(32);
    const v1::ChallengeReply challenge = Challenge(socket, nonce);
    v1::ClientFrame answer;
    answer.mutable_answer()->set_challenge_id(challenge.challenge_id());
    answer.mutable_answer()->set_client_proof(
        ClientProof(server.authkey(), challenge.server_nonce(), nonce));
    answer.mutable_answer()->set_client_name(std::string(5000, 'c'));
    ASSERT_TRUE(socket.Write(answer));
    v1::StreamEnd end = socket.ReadUntilEnd();
    EXPECT_EQ(end.code(), static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
    EXPECT_NE(end.message().find("LimitError"), std::string::npos) << end.message();
    EXPECT_NE(end.message().find("4096"), std::string::npos) << end.message();
    EXPECT_TRUE(socket.AtEnd());
  }
  ExpectServes(server, "after");
}

TEST(PreLoginTest, AChallengedConnectionThatDoesNotAnswerInTimeIsClosed) {
  ServerProcess server({"--login_timeout=1s"});
  const uint32_t port = FramedPort(server);
  const auto start = Clock::now();
  FramedSocket socket(port);
  ASSERT_TRUE(socket.connected());
  Challenge(socket, RandomBytes(32));
  // The answer never comes: the login timeout runs from the connection's
  // start, through its challenge.
  v1::StreamEnd end = socket.ReadUntilEnd();
  EXPECT_EQ(end.code(), static_cast<int>(grpc::StatusCode::DEADLINE_EXCEEDED));
  EXPECT_NE(end.message().find("no login within 1s"), std::string::npos) << end.message();
  EXPECT_TRUE(socket.AtEnd());
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(900));
  ExpectServes(server, "after");
}

TEST(PreLoginTest, ChallengedConnectionsStillWaitToLogIn) {
  ServerProcess server({"--max_pending_logins=2", "--login_timeout=60s"});
  const uint32_t port = FramedPort(server);
  FramedSocket first(port);
  FramedSocket second(port);
  ASSERT_TRUE(first.connected());
  ASSERT_TRUE(second.connected());
  Challenge(first, RandomBytes(32));
  const std::string nonce = RandomBytes(32);
  const v1::ChallengeReply challenge = Challenge(second, nonce);
  // A third connection closes the oldest waiting, challenged or not.
  FramedSocket third(port);
  ASSERT_TRUE(third.connected());
  v1::StreamEnd end = first.ReadUntilEnd();
  EXPECT_EQ(end.code(), static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_NE(end.message().find("too many connections waiting to log in"), std::string::npos)
      << end.message();
  // The second still logs in with its answer.
  v1::ClientFrame answer;
  answer.mutable_answer()->set_challenge_id(challenge.challenge_id());
  answer.mutable_answer()->set_client_proof(
      ClientProof(server.authkey(), challenge.server_nonce(), nonce));
  ASSERT_TRUE(second.Write(answer));
  v1::ServerFrame reply;
  ASSERT_TRUE(second.Read(&reply));
  EXPECT_TRUE(reply.has_answer()) << reply.ShortDebugString();
  EXPECT_TRUE(Quiet(third.fd()));
}

TEST(PreLoginTest, AConnectionThatDoesNotLogInInTimeIsClosed) {
  ServerProcess server({"--login_timeout=1s"});
  const uint32_t port = FramedPort(server);
  const auto start = Clock::now();
  FramedSocket silent(port);
  FramedSocket partial(port);
  ASSERT_TRUE(silent.connected());
  ASSERT_TRUE(partial.connected());
  // Half a first frame, then nothing.
  ASSERT_TRUE(partial.WriteBytes(Header(100) + "abc"));
  for (FramedSocket* socket : {&silent, &partial}) {
    v1::StreamEnd end = socket->ReadUntilEnd();  // gives up after 30 s
    EXPECT_EQ(end.code(), static_cast<int>(grpc::StatusCode::DEADLINE_EXCEEDED));
    EXPECT_NE(end.message().find("TimeoutError"), std::string::npos) << end.message();
    EXPECT_NE(end.message().find("no login within 1s"), std::string::npos) << end.message();
    EXPECT_TRUE(socket->AtEnd());
  }
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(900));
  // A client that logs in at once is not troubled by the short timeout.
  ExpectServes(server, "after");
}

TEST(PreLoginTest, TheGrpcPortClosesASilentConnection) {
  ServerProcess server({"--login_timeout=1s"});
  const std::string& address = server.address();
  const uint32_t port = static_cast<uint32_t>(std::stoul(address.substr(address.rfind(':') + 1)));
  FramedSocket silent(port);  // plain TCP: it never starts HTTP/2
  ASSERT_TRUE(silent.connected());
  const auto start = Clock::now();
  // The server ends the connection (bytes it may send first are skipped);
  // the socket gives up after 30 s.
  char buffer[256];
  ssize_t n = 0;
  while ((n = recv(silent.fd(), buffer, sizeof(buffer), 0)) > 0) {
  }
  EXPECT_EQ(n, 0) << "the connection did not end; errno " << errno;
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(20));
  ExpectServes(server, "after");
}

TEST(PreLoginTest, TooManyWaitingToLogInClosesTheOldest) {
  ServerProcess server({"--max_pending_logins=4", "--login_timeout=60s"});
  const uint32_t port = FramedPort(server);
  std::vector<std::unique_ptr<FramedSocket>> sockets;
  auto open = [&] {
    sockets.push_back(std::make_unique<FramedSocket>(port));
    ASSERT_TRUE(sockets.back()->connected());
  };
  for (int i = 0; i < 4; ++i) open();
  // A fifth closes the oldest, then a sixth the next oldest.
  for (int closed = 0; closed < 2; ++closed) {
    open();
    v1::StreamEnd end = sockets[closed]->ReadUntilEnd();
    EXPECT_EQ(end.code(), static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
    EXPECT_NE(end.message().find("too many connections waiting to log in"), std::string::npos)
        << end.message();
    EXPECT_TRUE(sockets[closed]->AtEnd());
  }
  // A client that holds the key still gets in: its connection closes the
  // oldest silent one in turn, and it logs in at once.
  ExpectServes(server, "real-client");
  v1::StreamEnd end = sockets[2]->ReadUntilEnd();
  EXPECT_EQ(end.code(), static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
  // The newer ones are still waiting, untouched.
  for (size_t i = 3; i < sockets.size(); ++i) EXPECT_TRUE(Quiet(sockets[i]->fd())) << i;
}

// A flood of Challenge calls from clients without the key (and of wrong
// answers) while clients with the key log in one after another: every login
// succeeds.
TEST(LoginFloodTest, KeylessChallengesNeverLockOutAClientWithTheKey) {
  ServerProcess server;
  constexpr int kFloodThreads = 4;
  constexpr int kLogins = 30;
  constexpr long kBeyondATable = 12000;
  std::atomic<bool> stop{false};
  std::atomic<long> challenges{0};
  std::atomic<long> refused{0};
  std::atomic<long> wrong_answers_accepted{0};
  std::vector<std::thread> flood;
  // However the test ends (an assertion returns early), the flood stops and
  // its threads are joined first.
  struct StopFlood {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~StopFlood() {
      stop.store(true);
      for (std::thread& thread : threads) {
        if (thread.joinable()) thread.join();
      }
    }
  } stop_flood{stop, flood};
  for (int t = 0; t < kFloodThreads; ++t) {
    flood.emplace_back([&, t] {
      RawClient raw(server.address());  // a channel of its own
      while (!stop.load()) {
        RawChallenge challenge = raw.Challenge();
        if (challenge.reply.challenge_id().empty()) {
          refused.fetch_add(1);
          continue;
        }
        challenges.fetch_add(1);
        // One thread also answers, with a wrong key, every challenge it gets.
        if (t == 0 && raw.Answer(challenge, "not-the-key", nullptr).ok()) {
          wrong_answers_accepted.fetch_add(1);
        }
      }
    });
  }
  // The flood runs before the first login, until it has asked for more
  // challenges than a server that kept each one would hold (10000 within a
  // challenge's life). The wait is on that count; the bound is only there to
  // fail rather than hang, and leaves a slow (sanitizer) build on a loaded
  // machine room to get there.
  const auto give_up = Clock::now() + std::chrono::seconds(150);
  while (challenges.load() + refused.load() < kBeyondATable && Clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GE(challenges.load() + refused.load(), kBeyondATable);
  std::printf("flood: %ld keyless Challenge calls before the first login\n",
              challenges.load() + refused.load());

  const auto flood_start = Clock::now();
  const long flood_before = challenges.load();
  // $SHOAL_LOGIN_FLOOD_SECONDS keeps logging in under the flood for that long
  // (docs/reliability.md's figure); by default, kLogins logins.
  const char* long_run = std::getenv("SHOAL_LOGIN_FLOOD_SECONDS");
  const auto flood_until =
      flood_start + std::chrono::seconds(long_run != nullptr ? std::atoi(long_run) : 0);
  int failures = 0;
  int logins = 0;
  std::vector<double> latency_ms;
  for (int i = 0; i < kLogins || Clock::now() < flood_until; ++i) {
    ++logins;
    const auto begin = Clock::now();
    try {
      Manager m = Manager::connect(server.address(), AuthKey::from_file(server.authkey_file()));
      latency_ms.push_back(
          std::chrono::duration<double, std::milli>(Clock::now() - begin).count());
      EXPECT_FALSE(m.session_id().empty());
    } catch (const std::exception& e) {
      ++failures;
      ADD_FAILURE() << "login " << i << " failed: " << e.what();
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - flood_start).count();
  const long flooded = challenges.load() - flood_before;
  stop.store(true);
  for (std::thread& thread : flood) thread.join();
  flood.clear();

  EXPECT_EQ(failures, 0);
  EXPECT_EQ(refused.load(), 0);
  EXPECT_EQ(wrong_answers_accepted.load(), 0);
  std::sort(latency_ms.begin(), latency_ms.end());
  if (!latency_ms.empty()) {
    std::printf(
        "flood: %ld keyless Challenge calls in %.2f s (%.0f/s) from %d threads; %d logins, %d "
        "failed; login latency median %.1f ms, max %.1f ms\n",
        flooded, seconds, static_cast<double>(flooded) / seconds, kFloodThreads, logins,
        failures, latency_ms[latency_ms.size() / 2], latency_ms.back());
  }
}

}  // namespace
}  // namespace shoal::testing
