// Reconnection that keeps the session. A client reaches the server through
// a TCP proxy (integration/tcp_proxy.h) on both ports, on 127.0.0.2, where
// the proxy listens on the ports the server listens on at 127.0.0.1 (so that
// the framed port the server offers at login leads to the proxy too). The
// proxy cuts every connection and refuses new ones, then accepts again: the
// client library resumes its session, with its locks, its parked calls and
// its calls in flight, each completed exactly once; a cut longer than the
// grace, or a server restart, ends the session, and every call then raises
// SessionExpired saying why. Runs on both transports of the session stream
// (the framed one, and gRPC's as grpc_stream.ResumeTest.*).
//
// The length of a cut is the behaviour under test (shorter or longer than
// the grace); everything else waits for events: the server listing the
// session without a stream, or gone, the proxy forwarding a new connection.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "integration/error_of.h"
#include "integration/fixture.h"
#include "integration/raw_client.h"
#include "integration/server_process.h"
#include "integration/tcp_proxy.h"
#include "integration/waiting.h"
#include "shoal/shoal.h"

namespace shoal::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr char kGrace[] = "--stream-grace=3s";
// How long a test waits for an event that should come within the grace.
constexpr absl::Duration kPatience = absl::Seconds(30);

uint16_t PortOf(const std::string& address) {
  uint32_t port = 0;
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
    ADD_FAILURE() << "no port in " << address;
  }
  return static_cast<uint16_t>(port);
}

// The framed port a server offers at login.
uint16_t FramedPortOf(const ServerProcess& server) {
  RawClient raw(server.address());
  raw.Login(server.authkey());
  return static_cast<uint16_t>(raw.last_answer().framed().port());
}

// The two proxies in front of a server: its gRPC port and its framed port.
class Proxies {
 public:
  Proxies(uint16_t grpc_port, uint16_t framed_port)
      : grpc_("127.0.0.2", grpc_port, "127.0.0.1", grpc_port),
        framed_("127.0.0.2", framed_port, "127.0.0.1", framed_port) {}

  std::string address() const { return "127.0.0.2:" + std::to_string(grpc_.port()); }
  void Cut() {
    grpc_.Cut();
    framed_.Cut();
  }
  void Accept() {
    grpc_.Accept();
    framed_.Accept();
  }
  void MuteReplies(bool mute) {
    grpc_.MuteReplies(mute);
    framed_.MuteReplies(mute);
  }
  void Silence() {
    grpc_.Silence();
    framed_.Silence();
  }
  void Retarget(uint16_t grpc_port, uint16_t framed_port) {
    grpc_.Retarget(grpc_port);
    framed_.Retarget(framed_port);
  }
  // Connections forwarded on both ports together.
  int forwarded() const { return grpc_.forwarded() + framed_.forwarded(); }

 private:
  TcpProxy grpc_;
  TcpProxy framed_;
};

// Waits until the server lists the session with no stream (streams ==
// want) or, with want < 0, no longer lists it.
::testing::AssertionResult AwaitSession(const Manager& observer, const std::string& id,
                                        int want) {
  const absl::Time deadline = absl::Now() + kPatience;
  int seen = -2;
  while (absl::Now() < deadline) {
    seen = -1;
    for (const SessionInfo& session : observer.sessions()) {
      if (std::to_string(session.id) == id) seen = session.streams;
    }
    if (seen == want) return ::testing::AssertionSuccess();
    std::this_thread::sleep_for(10ms);
  }
  return ::testing::AssertionFailure()
         << "session " << id << " has " << seen << " streams, not " << want;
}

class ResumeTest : public ServerTest {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess({kGrace}); }

  void SetUp() override {
    proxies_ = std::make_unique<Proxies>(PortOf(server().address()), FramedPortOf(server()));
  }

  // A client whose connections go through the proxies.
  Manager ConnectThroughProxy() {
    return Manager::connect(proxies_->address(), AuthKey::from_file(server().authkey_file()));
  }

  std::unique_ptr<Proxies> proxies_;
};

TEST_F(ResumeTest, ASessionSurvivesACutWithItsLockHeldAndACallInFlightRunsOnce) {
  const std::string name = Unique("lock");
  Manager a = ConnectThroughProxy();
  Manager b = Connect();
  LockProxy held = a.Lock(name);
  ASSERT_TRUE(held.acquire());
  ValueProxy counter = a.Value("i", 0, Unique("counter"));
  const std::string id = a.session_id();

  // The add reaches the server and runs, but its reply is lost with the
  // connection.
  proxies_->MuteReplies(true);
  std::future<Value> added = std::async(std::launch::async, [&] { return counter.add(1); });
  ValueProxy seen_by_b = b.Value("i", 0, Unique("counter"));
  const absl::Time deadline = absl::Now() + kPatience;
  while (seen_by_b.get().as_int() != 1 && absl::Now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(seen_by_b.get().as_int(), 1);
  const int forwarded = proxies_->forwarded();
  proxies_->Cut();
  proxies_->MuteReplies(false);
  ASSERT_TRUE(AwaitSession(b, id, 0));

  // A second, shorter than the grace: the session holds its Lock meanwhile.
  LockProxy other = b.Lock(name);
  const absl::Time cut_ends = absl::Now() + absl::Seconds(1);
  EXPECT_FALSE(other.acquire(/*blocking=*/false));
  std::this_thread::sleep_until(absl::ToChronoTime(cut_ends));
  EXPECT_FALSE(other.acquire(/*blocking=*/false));
  proxies_->Accept();

  // The add sent again is answered from the reply the server kept.
  ASSERT_EQ(added.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(added.get().as_int(), 1);
  EXPECT_GT(proxies_->forwarded(), forwarded);
  EXPECT_EQ(seen_by_b.get().as_int(), 1);
  EXPECT_EQ(a.session_id(), id);
  ASSERT_TRUE(AwaitSession(b, id, 1));
  // Still the holder: only its release lets b in.
  EXPECT_FALSE(other.acquire(/*blocking=*/false));
  EXPECT_EQ(counter.add(1).as_int(), 2);
  held.release();
  EXPECT_TRUE(other.acquire(/*blocking=*/true, 10s));
  other.release();
}

// A path that goes silent: no reset reaches either side, and the server
// still takes the old connection for alive. The client notices nothing
// comes back (its probe on the framed transport, its HTTP/2 keep-alive ping
// on gRPC's), resumes on a new connection, and the server hands it the
// session and ends the old connection.
TEST_F(ResumeTest, ASilentPathIsNoticedAndTheResumeTakesTheSessionOver) {
  const std::string name = Unique("lock");
  Manager a = ConnectThroughProxy();
  Manager b = Connect();
  LockProxy held = a.Lock(name);
  ASSERT_TRUE(held.acquire());
  ValueProxy counter = a.Value("i", 0, Unique("counter"));
  const std::string id = a.session_id();

  // The add runs, and its reply is lost in the path that then goes silent.
  proxies_->MuteReplies(true);
  std::future<Value> added = std::async(std::launch::async, [&] { return counter.add(1); });
  ValueProxy seen_by_b = b.Value("i", 0, Unique("counter"));
  const absl::Time deadline = absl::Now() + kPatience;
  while (seen_by_b.get().as_int() != 1 && absl::Now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(seen_by_b.get().as_int(), 1);
  const int forwarded = proxies_->forwarded();
  const absl::Time silenced = absl::Now();
  proxies_->Silence();
  proxies_->MuteReplies(false);
  LockProxy other = b.Lock(name);
  EXPECT_FALSE(other.acquire(/*blocking=*/false));

  // Resumed on a new connection, well within the grace of 3s: the add is
  // answered from the reply the server kept, and ran once.
  ASSERT_EQ(added.wait_for(30s), std::future_status::ready);
  EXPECT_LT(absl::Now() - silenced, absl::Seconds(3));
  EXPECT_EQ(added.get().as_int(), 1);
  EXPECT_GT(proxies_->forwarded(), forwarded);
  EXPECT_EQ(a.session_id(), id);
  // The old connection, which the server never saw fail, was ended by the
  // resume: one stream is left.
  ASSERT_TRUE(AwaitSession(b, id, 1));
  EXPECT_EQ(seen_by_b.get().as_int(), 1);
  // Still the holder: only its release lets b in.
  EXPECT_FALSE(other.acquire(/*blocking=*/false));
  EXPECT_EQ(counter.add(1).as_int(), 2);
  held.release();
  EXPECT_TRUE(other.acquire(/*blocking=*/true, 10s));
  other.release();
}

TEST_F(ResumeTest, ACallSentDuringTheCutRunsOnceTheSessionResumes) {
  Manager a = ConnectThroughProxy();
  Manager b = Connect();
  ValueProxy counter = a.Value("i", 0, Unique("counter"));
  const std::string id = a.session_id();
  proxies_->Cut();
  ASSERT_TRUE(AwaitSession(b, id, 0));
  std::future<Value> added = std::async(std::launch::async, [&] { return counter.add(5); });
  EXPECT_EQ(added.wait_for(200ms), std::future_status::timeout);
  proxies_->Accept();
  ASSERT_EQ(added.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(added.get().as_int(), 5);
  EXPECT_EQ(b.Value("i", 0, Unique("counter")).get().as_int(), 5);
}

TEST_F(ResumeTest, AParkedGetSurvivesACutAndGetsItsItem) {
  Manager a = ConnectThroughProxy();
  Manager b = Connect();
  QueueProxy queue = a.Queue(0, Unique("queue"));
  const std::string id = a.session_id();
  std::future<Value> got = std::async(std::launch::async, [&] { return queue.get(); });
  ASSERT_TRUE(AwaitWaiting(b, queue, 1));
  proxies_->Cut();
  ASSERT_TRUE(AwaitSession(b, id, 0));
  // The get is still parked while its client is away, and takes the item.
  ASSERT_TRUE(AwaitWaiting(b, queue, 1));
  b.Queue(0, Unique("queue")).put("item");
  proxies_->Accept();
  ASSERT_EQ(got.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(got.get().as_str(), "item");
  EXPECT_EQ(queue.qsize(), 0);
}

TEST_F(ResumeTest, ACutLongerThanTheGraceExpiresTheSessionAndFreesItsLock) {
  const std::string name = Unique("lock");
  Manager a = ConnectThroughProxy();
  Manager b = Connect();
  LockProxy held = a.Lock(name);
  ASSERT_TRUE(held.acquire());
  const std::string id = a.session_id();
  proxies_->Cut();
  // The grace passes: the session ends, and its Lock goes.
  ASSERT_TRUE(AwaitSession(b, id, -1));
  LockProxy other = b.Lock(name);
  EXPECT_TRUE(other.acquire(/*blocking=*/true, 10s));
  proxies_->Accept();
  const std::string message = ErrorOf<SessionExpired>([&] { held.release(); });
  EXPECT_THAT(message, ::testing::AnyOf(HasSubstr("within the grace of 3s"),
                                        HasSubstr("none came back within the grace of 3s")));
  // Every later call too, and SessionExpired is a ConnectionError.
  EXPECT_THAT(ErrorOf<ConnectionError>([&] { a.Lock(name); }), HasSubstr("grace of 3s"));
  other.release();
}

TEST_F(ResumeTest, AWrongKeyOnReconnectIsNotRetried) {
  ServerProcess stranger({kGrace});
  Manager a = ConnectThroughProxy();
  Manager b = Connect();
  ValueProxy counter = a.Value("i", 0);
  const std::string id = a.session_id();
  proxies_->Cut();
  ASSERT_TRUE(AwaitSession(b, id, 0));
  // The proxy now leads to a server with another key.
  proxies_->Retarget(PortOf(stranger.address()), FramedPortOf(stranger));
  proxies_->Accept();
  const absl::Time start = absl::Now();
  EXPECT_THAT(ErrorOf<AuthenticationError>([&] { counter.add(1); }),
              HasSubstr("the server refused our authkey"));
  // At once, not after the grace spent trying again.
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_THAT(ErrorOf<AuthenticationError>([&] { counter.get(); }), HasSubstr("authkey"));
}

// A server restarted during the cut: the session is gone with it.
TEST(ResumeRestartTest, AServerRestartDuringTheCutGivesSessionExpiredSayingSo) {
  const uint16_t framed_port = FreePort("127.0.0.1");
  ServerProcess::Options options;
  options.args = {kGrace, "--session-listen=127.0.0.1:" + std::to_string(framed_port)};
  auto first = std::make_unique<ServerProcess>(options);
  Proxies proxies(PortOf(first->address()), framed_port);
  Manager a =
      Manager::connect(proxies.address(), AuthKey::from_file(first->authkey_file()));
  LockProxy held = a.Lock("held");
  ASSERT_TRUE(held.acquire());
  const std::string before = a.incarnation();
  proxies.Cut();
  first->Stop();
  options.listen = first->address();
  options.args.push_back("--authkey-file=" + first->authkey_file());
  ServerProcess second(options);
  proxies.Accept();
  const std::string message = ErrorOf<SessionExpired>([&] { held.release(); });
  EXPECT_THAT(message, HasSubstr("the server restarted"));
  EXPECT_THAT(message, HasSubstr(before));
  EXPECT_THAT(ErrorOf<SessionExpired>([&] { a.Lock("held"); }), HasSubstr("restarted"));
  // A new session works, and the Lock is free.
  Manager fresh = Manager::connect(proxies.address(), AuthKey::from_file(first->authkey_file()));
  EXPECT_TRUE(fresh.Lock("held").acquire(/*blocking=*/false));
}

}  // namespace
}  // namespace shoal::testing
