// Children made by fork() from a connected process: the Managers and proxies
// they inherit work in them (each child logs in a session of its own on the
// framed transport, with no gRPC), the parent's session is untouched, and a
// child's session ends with it. The children are plain fork()s; each one
// reports through its exit code (and its standard error), and the parent
// waits for it within a deadline, so that a child that hangs fails the test
// instead of stalling it.
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "client/src/fork.h"
#include "client/src/handshake.h"
#include "integration/fixture.h"
#include "integration/raw_client.h"
#include "integration/tcp_proxy.h"
#include "integration/sanitizers.h"
#include "integration/waiting.h"


namespace shoal::testing {
namespace {

using std::chrono::seconds;

// Set in the children the tests fork.
bool forked_child = false;

}  // namespace
}  // namespace shoal::testing

// LeakSanitizer (in the AddressSanitizer build) is not made for a child
// forked from a multi-threaded process: it still counts the parent's threads
// ("Running thread ... was not suspended. False leaks are possible") and
// misses what only their stacks held. Its check at exit is skipped in the
// children the tests fork; most end with _exit, which skips it anyway.
extern "C" int __lsan_is_turned_off() { return shoal::testing::forked_child ? 1 : 0; }

namespace shoal::testing {
namespace {

// How long a test waits for a child to exit before it kills it and fails.
constexpr seconds kChildDeadline{60};

// A check inside a child: when it fails, the child ends with exit code 1
// and what failed on its standard error.
void Require(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("failed: " + what);
}

// In a child: whether get() on a Future the parent made is refused as the
// parent's call.
bool RefusedAsTheParents(Future<Value>& future) {
  try {
    future.get();
  } catch (const ConnectionError& e) {
    return std::string(e.what()).find("its reply goes to that process") != std::string::npos;
  }
  return false;
}

// Runs body in a child made by fork(). The child ends with _exit: code 0
// when body returned, 1 when it threw (the message goes to standard error).
// Unless end_sessions is false, the child first ends the sessions it opened,
// as a child that is done should.
pid_t ForkChild(const std::function<void()>& body, bool end_sessions = true) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  forked_child = true;
  int code = 0;
  try {
    body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child %d: %s\n", getpid(), e.what());
    code = 1;
  }
  if (end_sessions) detail::EndSessionsOfThisProcess();
  _exit(code);
}

// Waits for the child pid to exit, at most deadline; one that does not is
// killed. Success when it exited with code 0.
::testing::AssertionResult ChildSucceeds(pid_t pid, seconds deadline = kChildDeadline) {
  if (pid < 0) return ::testing::AssertionFailure() << "fork failed: " << std::strerror(errno);
  // A pidfd becomes readable when the process exits: a wait on an event,
  // with a deadline.
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return ::testing::AssertionFailure() << "pidfd_open: " << std::strerror(errno);
  }
  pollfd exited{pidfd, POLLIN, 0};
  int ready = 0;
  const auto give_up = std::chrono::steady_clock::now() + deadline;
  do {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        give_up - std::chrono::steady_clock::now());
    ready = poll(&exited, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
  } while (ready < 0 && errno == EINTR);
  close(pidfd);
  if (ready <= 0) {
    // Where each of its threads stands, for the report, when gdb is there.
    if (access("/usr/bin/gdb", X_OK) == 0) {
      const std::string command = "/usr/bin/gdb -batch -p " + std::to_string(pid) +
                                  " -ex 'thread apply all bt' 1>&2 2>/dev/null";
      if (std::system(command.c_str()) != 0) std::fprintf(stderr, "gdb could not attach\n");
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return ::testing::AssertionFailure()
           << "child " << pid << " did not exit within " << deadline.count() << " s (killed)";
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) {
    return ::testing::AssertionFailure() << "waitpid: " << std::strerror(errno);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ::testing::AssertionSuccess();
  if (WIFSIGNALED(status)) {
    return ::testing::AssertionFailure() << "child " << pid << " died of signal "
                                         << WTERMSIG(status);
  }
  return ::testing::AssertionFailure() << "child " << pid << " exited with "
                                       << WEXITSTATUS(status) << " (see its standard error)";
}

// A one-way signal between two processes: a pipe, one byte per Send.
class Signal {
 public:
  Signal() {
    if (pipe(fds_) != 0) throw std::runtime_error("pipe failed");
  }
  ~Signal() {
    close(fds_[0]);
    close(fds_[1]);
  }
  Signal(const Signal&) = delete;
  Signal& operator=(const Signal&) = delete;

  void Send(char byte = '.') {
    if (write(fds_[1], &byte, 1) != 1) throw std::runtime_error("the signal's pipe broke");
  }
  // Waits at most 30 s for a byte; false when none came.
  bool Wait(char* byte = nullptr) {
    pollfd readable{fds_[0], POLLIN, 0};
    if (poll(&readable, 1, 30000) != 1) return false;
    char got = 0;
    if (read(fds_[0], &got, 1) != 1) return false;
    if (byte != nullptr) *byte = got;
    return true;
  }
  // Sends a line of text (no newline inside), and reads one.
  void SendLine(const std::string& text) {
    for (char c : text) Send(c);
    Send('\n');
  }
  std::string WaitLine() {
    std::string text;
    char c = 0;
    while (Wait(&c) && c != '\n') text += c;
    return text;
  }

 private:
  int fds_[2] = {-1, -1};
};

// Threads that keep calling until stopped, and are stopped and joined
// whatever happens to the test.
class Busy {
 public:
  ~Busy() { Stop(); }

  // Runs step again and again on a thread of its own, counting the steps.
  void Start(std::function<void()> step) {
    threads_.emplace_back([this, step = std::move(step)] {
      try {
        while (!stop_.load()) {
          step();
          steps_.fetch_add(1);
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "busy thread: %s\n", e.what());
        failures_.fetch_add(1);
      }
    });
  }
  void Stop() {
    stop_.store(true);
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
  }
  int64_t steps() const { return steps_.load(); }
  int failures() const { return failures_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> steps_{0};
  std::atomic<int> failures_{0};
  std::vector<std::thread> threads_;
};

uint64_t SessionNumber(const Manager& m) { return std::stoull(m.session_id()); }

// The object's holders' session ids.
std::vector<uint64_t> Holders(const Manager& m, const ObjectProxy& object) {
  std::vector<uint64_t> ids;
  for (const Holder& holder : m.describe(object.id()).holders) ids.push_back(holder.session_id);
  return ids;
}

Value::List Range(int n) {
  Value::List out;
  for (int i = 0; i < n; ++i) out.push_back(i);
  return out;
}

class ForkTest : public ServerTest {
 protected:
  static Manager ConnectWith(Transport transport) {
    ConnectOptions options;
    options.transport = transport;
    return Manager::connect(server().address(), AuthKey::from_file(server().authkey_file()),
                            options);
  }
};

// The parent's transport: the children log in on the framed transport
// either way.
class ForkFromTransportTest : public ForkTest, public ::testing::WithParamInterface<Transport> {};

INSTANTIATE_TEST_SUITE_P(Transports, ForkFromTransportTest,
                         ::testing::Values(Transport::kFramed, Transport::kGrpcStream),
                         [](const ::testing::TestParamInfo<Transport>& info) {
                           return info.param == Transport::kFramed ? "Framed" : "GrpcStream";
                         });

// The seeds' example: with Manager() as manager: d = manager.dict(); l =
// manager.list(range(10)); p = Process(target=f, args=(d, l)); ...
TEST_P(ForkFromTransportTest, TheChildUsesTheDictAndListItInherited) {
  Manager m = ConnectWith(GetParam());
  DictProxy d = m.dict();
  ListProxy l = m.list(Range(10));
  const uint64_t parent_session = SessionNumber(m);
  ASSERT_TRUE(ChildSucceeds(ForkChild([&] {
    d.set(1, "1");
    d.set("2", 2);
    d.set(0.25, Value());
    l.reverse();
    // The calls went through a session of the child's own.
    Require(SessionNumber(m) != parent_session, "the child has a session of its own");
  })));
  Value::Dict expected;
  expected.set(1, "1");
  expected.set("2", 2);
  expected.set(0.25, Value());
  EXPECT_EQ(Value(d.copy()), Value(expected));
  Value::List reversed = Range(10);
  std::reverse(reversed.begin(), reversed.end());
  EXPECT_EQ(Value(l.copy()), Value(reversed));
  // The parent's session is the one it had.
  EXPECT_EQ(SessionNumber(m), parent_session);
  l.append(10);
  EXPECT_EQ(l.len(), 11u);
}

// A child that ends with exit(), as a C++ program does when main returns:
// the static destructors of the library and of gRPC run in a process where
// gRPC's threads are gone, and must not hang.
TEST_P(ForkFromTransportTest, AChildThatCallsExitEnds) {
  Manager m = ConnectWith(GetParam());
  ListProxy l = m.list();
  const pid_t pid = fork();
  if (pid == 0) {
    forked_child = true;
    l.append("child");
    std::exit(0);
  }
  ASSERT_TRUE(ChildSucceeds(pid));
  EXPECT_EQ(Value(l.copy()), Value(Value::List{"child"}));
}

TEST_P(ForkFromTransportTest, ForksFromAParentBusyOnFourThreadsNeverHang) {
#if SHOAL_HAS_ADDRESS_SANITIZER
  // AddressSanitizer's allocator before LLVM 18 takes no lock around fork():
  // a child forked while another thread holds one of its size-class locks
  // waits for ever in its first allocation of that size, whatever the
  // program does (seen here: the child's first thread start, in free()).
  // The threads below allocate all the time, so this test forks into that
  // window; it runs in the plain and ThreadSanitizer builds, whose runtime
  // locks itself around fork().
  GTEST_SKIP() << "AddressSanitizer's allocator is not fork-safe with busy threads";
#endif
  Manager m = ConnectWith(GetParam());
  ValueProxy counter = m.Value("i", 0);
  DictProxy scratch = m.dict();
  QueueProxy queue = m.Queue();
  ListProxy list = m.list();
  std::atomic<int64_t> added{0};
  std::atomic<int> wrong{0};
  Busy busy;
  busy.Start([&] {
    counter.add(1);
    added.fetch_add(1);
  });
  busy.Start([&, n = int64_t{0}]() mutable {
    scratch.set(n % 100, n);
    if (scratch.get(n % 100) != Value(n)) wrong.fetch_add(1);
    ++n;
  });
  busy.Start([&, n = int64_t{0}]() mutable {
    queue.put(n);
    if (queue.get() != Value(n)) wrong.fetch_add(1);
    ++n;
  });
  busy.Start([&] {
    list.append(1);
    list.remove(1);
  });

  DictProxy from_children = m.dict();
  ValueProxy children = m.Value("i", 0);
  constexpr int kRounds = 10;
  constexpr int kChildren = 4;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<pid_t> pids;
    for (int i = 0; i < kChildren; ++i) {
      const int64_t index = round * kChildren + i;
      pids.push_back(ForkChild([&, index] {
        from_children.set(index, static_cast<int64_t>(getpid()));
        children.add(1);
        // What the parent's threads are doing is visible, and the child's
        // calls do not disturb them.
        Require(counter.get().as_int() >= 0, "the counter reads");
        scratch.set("child", index);
        list.append("child");
      }));
    }
    for (pid_t pid : pids) ASSERT_TRUE(ChildSucceeds(pid)) << "round " << round;
  }
  busy.Stop();
  EXPECT_EQ(busy.failures(), 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(busy.steps(), 0);
  EXPECT_EQ(children.get(), Value(kRounds * kChildren));
  EXPECT_EQ(from_children.len(), static_cast<size_t>(kRounds * kChildren));
  EXPECT_EQ(counter.get(), Value(added.load()));
  EXPECT_EQ(list.count("child"), static_cast<size_t>(kRounds * kChildren));
  EXPECT_EQ(list.count(1), 0u);
}

TEST_F(ForkTest, AChildConnectsAManagerOfItsOwn) {
  Manager m = Connect();
  ListProxy shared = m.list();
  const std::string token = shared.token();
  // A second server this process never connected to before the fork.
  ServerProcess other;
  ASSERT_TRUE(ChildSucceeds(ForkChild([&] {
    Manager mine = Manager::connect(server().address(), AuthKey::from_file(server().authkey_file()));
    Require(SessionNumber(mine) != SessionNumber(m), "a new session");
    mine.attach<ListProxy>(token).append("attached");
    mine.list("fork-named").append("named");
    // A wrong key is refused by the server, over the framed login.
    bool refused = false;
    try {
      Manager::connect(server().address(), AuthKey::from_string("wrong"));
    } catch (const AuthenticationError& e) {
      refused = std::string(e.what()).find(std::string(detail::kRefusedOurKey)) != std::string::npos;
    }
    Require(refused, "a wrong key is refused");
    // A server this process never reached before the fork: gRPC is not
    // usable here, and where its framed transport listens is not known.
    bool told = false;
    try {
      Manager::connect(other.address(), AuthKey::from_file(other.authkey_file()));
    } catch (const ConnectionError& e) {
      told = std::string(e.what()).find("once before forking") != std::string::npos;
    }
    Require(told, "connecting to an unknown server says what to do");
  })));
  EXPECT_EQ(Value(shared.copy()), Value(Value::List{"attached"}));
  EXPECT_EQ(Value(m.list("fork-named").copy()), Value(Value::List{"named"}));
  m.delete_named("fork-named");
  // The parent reaches the other server as usual.
  Manager to_other = Manager::connect(other.address(), AuthKey::from_file(other.authkey_file()));
  EXPECT_FALSE(to_other.session_id().empty());
}

TEST_F(ForkTest, TheParentKeepsItsLockWhileChildrenComeAndGo) {
  Manager m = Connect();
  LockProxy lock = m.Lock();
  ASSERT_TRUE(lock.acquire());
  const uint64_t parent_session = SessionNumber(m);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(ChildSucceeds(ForkChild([&] {
      // The child's session is another: the lock is not its own.
      Require(!lock.acquire(true, std::chrono::milliseconds(200)), "the child waits, then gives up");
      Require(Holders(m, lock) == std::vector<uint64_t>{parent_session},
              "the parent's session holds the lock");
      bool refused = false;
      try {
        lock.release();
      } catch (const RuntimeError&) {
        refused = true;
      }
      Require(refused, "the child cannot release the parent's lock");
    })));
    EXPECT_EQ(Holders(m, lock), std::vector<uint64_t>{parent_session});
  }
  lock.release();
  EXPECT_TRUE(Holders(m, lock).empty());
}

// A child's own session resumes after its connection is cut, as any does:
// on the framed transport it logs in on, through a proxy on both ports.
TEST_F(ForkTest, AChildsSessionResumesAfterACutWithItsLockHeld) {
  const uint16_t grpc_port =
      static_cast<uint16_t>(std::stoi(server().address().substr(server().address().rfind(':') + 1)));
  RawClient raw(server().address());
  raw.Login(server().authkey());
  const uint16_t framed_port = static_cast<uint16_t>(raw.last_answer().framed().port());
  TcpProxy grpc("127.0.0.2", grpc_port, "127.0.0.1", grpc_port);
  TcpProxy framed("127.0.0.2", framed_port, "127.0.0.1", framed_port);
  Manager m = Manager::connect("127.0.0.2:" + std::to_string(grpc_port),
                               AuthKey::from_file(server().authkey_file()));
  Manager observer = Connect();
  const std::string name = "resumed-" + std::to_string(getpid());
  LockProxy lock = m.Lock(name + "-lock");
  ValueProxy counter = m.Value("i", 0, name + "-counter");
  Signal to_parent;
  Signal to_child;
  const pid_t pid = ForkChild([&] {
    Require(lock.acquire(), "the child takes the lock");
    const std::string mine = m.session_id();
    to_parent.SendLine(mine);
    Require(to_child.Wait(), "the parent cut the connections and let them in again");
    Require(counter.add(1).as_int() == 1, "the add runs once, after the resume");
    Require(m.session_id() == mine, "the same session");
    lock.release();
  });
  const std::string child_session = to_parent.WaitLine();
  ASSERT_FALSE(child_session.empty());
  const int forwarded = framed.forwarded();
  grpc.Cut();
  framed.Cut();
  // The server sees the child's session without its connection, and the
  // child still holds the lock.
  bool detached = false;
  for (int i = 0; i < 3000 && !detached; ++i) {
    for (const SessionInfo& session : observer.sessions()) {
      if (std::to_string(session.id) == child_session && session.streams == 0) detached = true;
    }
    if (!detached) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(detached);
  EXPECT_EQ(Holders(observer, lock), std::vector<uint64_t>{std::stoull(child_session)});
  grpc.Accept();
  framed.Accept();
  to_child.Send();
  ASSERT_TRUE(ChildSucceeds(pid));
  EXPECT_GT(framed.forwarded(), forwarded);
  EXPECT_EQ(observer.Value("i", 0, name + "-counter").get().as_int(), 1);
  EXPECT_TRUE(Holders(observer, lock).empty());
}

TEST_F(ForkTest, AChildThatEndsItsSessionsGivesItsLockBackAtOnce) {
  Manager m = Connect();
  LockProxy lock = m.Lock();
  Signal held;
  Signal go;
  const pid_t pid = ForkChild([&] {
    Require(lock.acquire(), "the child acquires");
    held.SendLine(m.session_id());
    Require(go.Wait(), "the parent's go");
    // ForkChild ends the child's sessions, then _exit()s: no release.
  });
  const std::string child_session = held.WaitLine();
  ASSERT_FALSE(child_session.empty());
  EXPECT_FALSE(lock.acquire(false));
  go.Send();
  ASSERT_TRUE(ChildSucceeds(pid));
  // The child ended its session before it exited: the server has given the
  // lock back and forgotten the session already, without a grace period.
  EXPECT_TRUE(lock.acquire(false));
  for (const SessionInfo& session : m.sessions()) {
    EXPECT_NE(std::to_string(session.id), child_session);
  }
  lock.release();
}

TEST_F(ForkTest, AChildThatJustExitsGivesItsLockBackAfterTheGrace) {
  Manager m = Connect();
  LockProxy lock = m.Lock();
  Signal held;
  const pid_t pid = ForkChild(
      [&] {
        Require(lock.acquire(), "the child acquires");
        held.Send();
      },
      /*end_sessions=*/false);
  ASSERT_TRUE(held.Wait());
  ASSERT_TRUE(ChildSucceeds(pid));
  // Its connection closed with it: the server ends the session after the
  // stream's grace, and the lock goes to the waiting parent.
  EXPECT_TRUE(lock.acquire(true, seconds(30)));
  lock.release();
}

TEST_F(ForkTest, TheServerSeesAParentGoWhileItsChildLives) {
  Manager m = Connect();
  LockProxy lock = m.Lock();
  Signal started;
  Signal release;
  const pid_t parent = ForkChild(
      [&] {
        Require(lock.acquire(), "the parent acquires");
        // A child that outlives its parent, holding copies of what the
        // parent had open but for the parent's session connection, which it
        // closed.
        ForkChild([&] { release.Wait(); });
        started.Send();
        pause();
      },
      /*end_sessions=*/false);
  ASSERT_TRUE(started.Wait());
  kill(parent, SIGKILL);
  waitpid(parent, nullptr, 0);
  // The server sees the parent's connection end, and gives the lock back
  // after the stream's grace (2 s), while the child still lives (it waits
  // 30 s for the release).
  EXPECT_TRUE(lock.acquire(true, seconds(10)));
  release.Send();
  lock.release();
}

TEST_F(ForkTest, TheChildNeverGetsTheParentsReplies) {
  Manager m = Connect();
  QueueProxy parked = m.Queue();
  QueueProxy pending = m.Queue();
  // A get parked on another thread of the parent while the child runs.
  std::optional<Value> got;
  std::thread getter([&] { got = parked.get(true, seconds(60)); });
  // Should an assertion end the test early, the getter is answered and
  // joined, not left to its timeout (or the thread destroyed while joinable).
  struct Unblock {
    QueueProxy& queue;
    std::thread& thread;
    ~Unblock() {
      if (!thread.joinable()) return;
      try {
        queue.put("unblock");
      } catch (const Error&) {
      }
      thread.join();
    }
  } unblock{parked, getter};
  ASSERT_TRUE(AwaitWaiting(m, parked, 1));
  // And a call of the parent's, sent, whose Future the child inherits.
  Future<Value> future = pending.async().get();
  ASSERT_TRUE(AwaitWaiting(m, pending, 1));
  ListProxy list = m.list();
  ASSERT_TRUE(ChildSucceeds(ForkChild([&] {
    Require(RefusedAsTheParents(future), "the parent's Future is not the child's");
    // The parent's parked get is answered there, by the child's put.
    parked.put("from the child");
    // Replies to the child's own calls come to the child.
    for (int i = 0; i < 100; ++i) list.append(i);
    Require(list.len() == 100, "the child's replies are its own");
    Require(list.get(42) == Value(42), "the child reads what it wrote");
  })));
  getter.join();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, Value("from the child"));
  pending.put("for the parent");
  EXPECT_EQ(future.get(), Value("for the parent"));
  EXPECT_EQ(list.len(), 100u);
}

TEST_F(ForkTest, AParentsFutureAnsweredBeforeTheForkIsNotTheChildsEither) {
  Manager m = Connect();
  ValueProxy v = m.Value("q", 41);
  Future<Value> added = v.async().add(1);
  Future<Value> last = v.async().get();
  // Both replies are in: the second's, waited for here, came after the first's.
  ASSERT_EQ(last.get().as_int(), 42);
  ASSERT_TRUE(added.ready());
  ASSERT_TRUE(ChildSucceeds(ForkChild([&] {
    Require(RefusedAsTheParents(added), "the parent's answered Future is not the child's");
  })));
  EXPECT_EQ(added.get().as_int(), 42);
}

TEST_F(ForkTest, AGrandchildUsesWhatItInherited) {
  Manager m = Connect();
  DictProxy d = m.dict();
  ASSERT_TRUE(ChildSucceeds(ForkChild([&] {
    // Made in the child: the child's session holds it.
    ListProxy made_in_child = m.list("fork-grandchild");
    d.set("child", "before");
    const pid_t grandchild = ForkChild([&] {
      d.set("grandchild", static_cast<int64_t>(getpid()));
      made_in_child.append("from the grandchild");
    });
    const ::testing::AssertionResult done = ChildSucceeds(grandchild);
    Require(done, std::string("the grandchild: ") + done.message());
    Require(made_in_child.copy() == Value::List{"from the grandchild"}, "the child sees it");
    d.set("child", "after");
  })));
  EXPECT_EQ(d.get("child"), Value("after"));
  EXPECT_TRUE(d.contains("grandchild"));
  EXPECT_EQ(Value(m.list("fork-grandchild").copy()), Value(Value::List{"from the grandchild"}));
  m.delete_named("fork-grandchild");
}

// A token names the object and the server's start, whichever process of
// the family takes it: an inherited proxy's token, taken in the child
// (before and after the child's own session exists), is the parent's, and
// attaches in the parent; so does the token of a proxy the child made.
TEST_F(ForkTest, TheTokensOfAChildsProxiesAttachInTheParent) {
  Manager m = Connect();
  ListProxy inherited = m.list();
  DictProxy tokens = m.dict();
  const std::string parent_token = inherited.token();
  ASSERT_TRUE(ChildSucceeds(ForkChild([&] {
    const std::string before_use = inherited.token();
    inherited.append("from the child");
    tokens.set("before use", before_use);
    tokens.set("after use", inherited.token());
    tokens.set("incarnation", m.incarnation());
    ListProxy made = m.list("fork-token-made-in-child");
    made.append("made by the child");
    tokens.set("made", made.token());
  })));
  EXPECT_EQ(tokens.get("before use"), Value(parent_token));
  EXPECT_EQ(tokens.get("after use"), Value(parent_token));
  EXPECT_EQ(tokens.get("incarnation"), Value(m.incarnation()));
  ListProxy attached = m.attach<ListProxy>(tokens.get("after use").as_str());
  EXPECT_EQ(attached.id(), inherited.id());
  EXPECT_EQ(Value(attached.copy()), Value(Value::List{"from the child"}));
  Manager other = Connect();
  EXPECT_EQ(Value(other.attach<ListProxy>(tokens.get("made").as_str()).copy()),
            Value(Value::List{"made by the child"}));
  m.delete_named("fork-token-made-in-child");
}

TEST_F(ForkTest, AnObjectLivesForTheChildAfterTheParentDropsIt) {
  Manager m = Connect();
  std::optional<DictProxy> d = m.dict({{"k", 1}});
  const uint64_t id = d->id();
  Signal used;
  Signal dropped;
  const pid_t pid = ForkChild([&] {
    // The first use takes the child's own reference.
    Require(d->get("k") == Value(1), "the child reads");
    Require(m.describe(id).session_refs == 2, "the parent's reference and the child's");
    used.Send();
    Require(dropped.Wait(), "the parent dropped its proxy");
    Require(m.describe(id).session_refs == 1, "the child's reference only");
    d->set("k", 2);
    Require(d->get("k") == Value(2), "the object is still there");
    // Dropping the inherited proxy gives back the child's reference: the
    // object, held by nothing else, goes.
    d.reset();
    m.objects();  // the child's releases are in before it looks
    bool gone = false;
    try {
      m.describe(id);
    } catch (const KeyError&) {
      gone = true;
    }
    Require(gone, "the object is freed once the child drops it");
  });
  ASSERT_TRUE(used.Wait());
  d.reset();
  m.objects();  // the parent's release is in
  dropped.Send();
  ASSERT_TRUE(ChildSucceeds(pid));
}

TEST_F(ForkTest, DroppingAnInheritedProxyGivesBackOnlyTheChildsReference) {
  Manager m = Connect();
  std::optional<ListProxy> l = m.list(Value::List{1, 2, 3});
  const uint64_t id = l->id();
  ASSERT_TRUE(ChildSucceeds(ForkChild([&] {
    Require(l->len() == 3, "the child reads");
    l.reset();
    m.objects();
    Require(m.describe(id).session_refs == 1, "the parent's reference is left");
  })));
  m.objects();
  EXPECT_EQ(m.describe(id).session_refs, 1);
  EXPECT_EQ(l->len(), 3u);
}

TEST_F(ForkTest, ClosingInTheChildClosesOnlyTheChildsSession) {
  Manager m = Connect();
  ListProxy l = m.list();
  ASSERT_TRUE(ChildSucceeds(ForkChild([&] {
    l.append("child");
    m.close();
    bool closed = false;
    try {
      l.append("after close");
    } catch (const ConnectionError&) {
      closed = true;
    }
    Require(closed, "the child's calls fail once it closed");
  })));
  l.append("parent");
  EXPECT_EQ(Value(l.copy()), Value(Value::List{"child", "parent"}));
}

TEST_F(ForkTest, AManagerClosedBeforeTheForkIsClosedInTheChild) {
  Manager m = Connect();
  ListProxy l = m.list();
  m.close();
  ASSERT_TRUE(ChildSucceeds(ForkChild([&] {
    bool closed = false;
    try {
      l.append(1);
    } catch (const ConnectionError&) {
      closed = true;
    }
    Require(closed, "a closed session does not come back in a child");
  })));
}

}  // namespace
}  // namespace shoal::testing
