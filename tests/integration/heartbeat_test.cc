// Heartbeats: a session with a stream lives while its client is heard from
// at least once per lease. A process frozen while it holds a Lock (SIGSTOP,
// as a long pause or a paused VM would) keeps its connection open, since its
// kernel answers for it; the server ends its session once the lease passes
// without a frame from it, and the Lock goes to the next waiter. A client
// that is merely idle, or waits in a long call, sends heartbeats from the
// library's own thread and keeps its session.
//
// The server runs with a short lease, so that these tests take seconds. The
// durations the tests wait for are the behaviour under test (idle for three
// leases), not a guess at how long something takes: what they wait on is
// bounded by a timeout that only a failure reaches.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "integration/fixture.h"
#include "integration/framed_socket.h"
#include "integration/raw_client.h"
#include "integration/server_process.h"
#include "integration/waiting.h"
#include "shoal/shoal.h"
#include "shoal/v1/manager.pb.h"

namespace shoal::testing {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::seconds kLease{2};

// Runs a function when the scope ends, however it ends, so that a failed
// check (or an exception) leaves no worker stopped or thread running.
template <class Fn>
class AtExit {
 public:
  explicit AtExit(Fn fn) : fn_(std::move(fn)) {}
  ~AtExit() { fn_(); }
  AtExit(const AtExit&) = delete;
  AtExit& operator=(const AtExit&) = delete;

 private:
  Fn fn_;
};
// What the server says when it ends a session it has not heard from.
constexpr char kNoHeartbeat[] = "session ended: no heartbeat for 2s";

class HeartbeatTest : public ServerTest {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess({"--lease=2s"}); }
  // Whether a session with this id is still listed by the server.
  static bool Listed(const Manager& m, const std::string& session_id) {
    for (const SessionInfo& session : m.sessions()) {
      if (std::to_string(session.id) == session_id) return true;
    }
    return false;
  }
};

TEST_F(HeartbeatTest, AFrozenHoldersLockGoesToTheNextWaiterWithinTheLease) {
  const std::string name = Unique("lock");
  int out = -1;
  const pid_t worker = Spawn({"frozen-holder", name}, &out);
  bool reaped = false;
  AtExit kill_worker([&] {
    if (!reaped) {
      kill(worker, SIGKILL);
      WaitWorker(worker);
    }
    close(out);
  });
  const std::string held = ReadLine(out);
  ASSERT_EQ(held.rfind("held ", 0), 0u) << held;
  const int64_t worker_token = std::stoll(held.substr(5));

  Manager m = Connect();
  LockProxy lock = m.Lock(name);
  EXPECT_FALSE(lock.acquire(false));
  ASSERT_EQ(kill(worker, SIGSTOP), 0);
  int status = 0;
  ASSERT_EQ(waitpid(worker, &status, WUNTRACED), worker);
  ASSERT_TRUE(WIFSTOPPED(status));

  // The worker's connection stays open, but nothing comes from it: its
  // session ends once the lease has passed, and the Lock is granted here.
  EXPECT_TRUE(lock.acquire(true, kLease * 3 + 2s));
  EXPECT_GT(lock.fencing_token(), worker_token);

  // Woken, the worker finds its session gone, and is told why: its attempt
  // to resume the session learns that it has ended (SessionExpired, a
  // ConnectionError).
  ASSERT_EQ(kill(worker, SIGCONT), 0);
  const std::string after = ReadLine(out);
  EXPECT_EQ(after.rfind("SessionExpired: ", 0), 0u) << after;
  EXPECT_NE(after.find(kNoHeartbeat), std::string::npos) << after;
  // Its release took nothing from the Lock's new holder.
  EXPECT_TRUE(lock.locked());
  lock.release();
  ASSERT_EQ(kill(worker, SIGKILL), 0);
  EXPECT_EQ(WaitWorker(worker), 128 + SIGKILL);
  reaped = true;
}

TEST_F(HeartbeatTest, AnIdleClientKeepsItsSessionAndItsLock) {
  Manager holder = Connect();
  LockProxy lock = holder.Lock();
  ASSERT_TRUE(lock.acquire());
  Manager other = Connect();
  LockProxy theirs = other.attach<LockProxy>(lock.token());
  // The holder makes no call for three leases, while another waits.
  EXPECT_FALSE(theirs.acquire(true, kLease * 3));
  EXPECT_TRUE(Listed(other, holder.session_id()));
  lock.release();
  EXPECT_TRUE(theirs.acquire(false));
  theirs.release();
}

TEST_F(HeartbeatTest, ACallParkedForSeveralLeasesStillCompletes) {
  Manager getter = Connect();
  QueueProxy q = getter.Queue();
  Value got;
  std::string failed;
  std::thread waiting([&] {
    try {
      got = q.get(true, 60s);
    } catch (const Error& e) {
      failed = e.kind() + ": " + e.what();
    }
  });
  AtExit join([&] {
    if (waiting.joinable()) waiting.join();
  });
  Manager putter = Connect();
  QueueProxy theirs = putter.attach<QueueProxy>(q.token());
  ASSERT_TRUE(AwaitWaiting(putter, theirs, 1));
  // Four leases in which the getter's only call waits.
  std::this_thread::sleep_for(kLease * 4);
  EXPECT_TRUE(Listed(putter, getter.session_id()));
  EXPECT_TRUE(AwaitWaiting(putter, theirs, 1));
  theirs.put("late");
  waiting.join();
  EXPECT_EQ(failed, "");
  EXPECT_EQ(got, Value("late"));
}

TEST_F(HeartbeatTest, AForkedChildIdleForLongerThanTheLeaseKeepsItsSession) {
  Manager m = Connect();
  LockProxy lock = m.Lock();
  EventProxy held = m.Event();
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  // Closing the write end also lets the child go, should the test fail
  // before it says so.
  AtExit close_go([&] {
    close(go[0]);
    close(go[1]);
  });
  Process child([&] {
    close(go[1]);
    // The child's own session, opened on first use, holds the Lock...
    if (!lock.acquire()) Process::exit(3);
    held.set();
    // ...while the child makes no call until the parent says go.
    char byte;
    if (read(go[0], &byte, 1) != 1) Process::exit(4);
    lock.release();  // throws, failing the child, if its session ended
  });
  child.start();
  ASSERT_TRUE(held.wait(30s));
  EXPECT_FALSE(lock.acquire(true, kLease * 3));
  ASSERT_EQ(write(go[1], "g", 1), 1);
  ASSERT_TRUE(child.join(60s));
  EXPECT_EQ(child.exitcode(), 0);
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
}

TEST_F(HeartbeatTest, ALeaseTooShortForHeartbeatsIsRefused) {
  const ServerExit refused = RunServerToExit(
      {"--listen=127.0.0.1:0", "--authkey-file=" + server_->authkey_file(), "--lease=100ms"});
  ASSERT_TRUE(WIFEXITED(refused.status)) << refused.output;
  EXPECT_EQ(WEXITSTATUS(refused.status), 2);
  EXPECT_NE(refused.output.find("--lease must be at least 500ms"), std::string::npos)
      << refused.output;
}

// The protocol as grpcurl and other clients see it, on the framed transport.
class HeartbeatWireTest : public HeartbeatTest {
 protected:
  struct Login {
    std::string token;
    uint32_t port = 0;
  };
  Login LogIn() {
    Login login;
    login.token = raw_.Login(server_->authkey());
    login.port = raw_.last_answer().framed().port();
    EXPECT_EQ(raw_.last_answer().lease_ms(), 2000);
    return login;
  }
  static v1::ClientFrame Hello(const std::string& token) {
    v1::ClientFrame frame;
    frame.set_token(token);
    return frame;
  }
  // Whether the session of token still authenticates a unary call (which
  // renews its lease when it has no stream).
  bool SessionAlive(const std::string& token) {
    v1::KeepAliveReply reply;
    return session_->KeepAlive(RawClient::WithToken(token).get(), v1::KeepAliveRequest(), &reply)
        .ok();
  }

  RawClient raw_{server_->address()};
  std::unique_ptr<v1::Session::Stub> session_ = v1::Session::NewStub(raw_.channel());
};

TEST_F(HeartbeatWireTest, ASilentConnectionsSessionEndsWithItsStream) {
  Login login = LogIn();
  FramedSocket socket(login.port);
  ASSERT_TRUE(socket.connected());
  ASSERT_TRUE(socket.Write(Hello(login.token)));
  // Nothing more is sent: the server ends the stream after the lease.
  const v1::StreamEnd end = socket.ReadUntilEnd();
  EXPECT_EQ(end.code(), static_cast<int>(grpc::StatusCode::UNAVAILABLE));
  EXPECT_EQ(end.message(), std::string("ConnectionError: ") + kNoHeartbeat);
  EXPECT_TRUE(socket.AtEnd());
  EXPECT_FALSE(SessionAlive(login.token));
}

TEST_F(HeartbeatWireTest, HeartbeatFramesKeepASessionAlive) {
  Login login = LogIn();
  FramedSocket socket(login.port);
  ASSERT_TRUE(socket.Write(Hello(login.token)));
  v1::ClientFrame beat;
  beat.set_heartbeat(true);
  // Three leases of heartbeats, one every half lease, and nothing else.
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(kLease / 2);
    ASSERT_TRUE(socket.Write(beat));
  }
  // A heartbeat is not answered: the next frame is the reply to this call.
  v1::ClientFrame call;
  v1::Call* release = call.add_calls();
  release->set_call_id(7);
  release->set_method("/shoal.v1.Manager/Release");
  v1::ReleaseRequest().SerializeToString(release->mutable_request());
  ASSERT_TRUE(socket.Write(call));
  v1::ServerFrame reply;
  ASSERT_TRUE(socket.Read(&reply));
  ASSERT_FALSE(reply.has_end()) << reply.end().message();
  ASSERT_EQ(reply.replies_size(), 1);
  EXPECT_EQ(reply.replies(0).call_id(), 7u);
  EXPECT_EQ(reply.replies(0).code(), 0) << reply.replies(0).error_message();
  EXPECT_TRUE(SessionAlive(login.token));
}

TEST_F(HeartbeatWireTest, ASessionWithoutAStreamLivesOnItsLeaseAsBefore) {
  Login login = LogIn();
  // Renewed by unary calls for three leases...
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(SessionAlive(login.token));
    std::this_thread::sleep_for(kLease / 2);
  }
  ASSERT_TRUE(SessionAlive(login.token));
  // ...and ended by the housekeeping once a lease passes without one.
  std::this_thread::sleep_for(kLease + 1s);
  EXPECT_FALSE(SessionAlive(login.token));
}

}  // namespace
}  // namespace shoal::testing
