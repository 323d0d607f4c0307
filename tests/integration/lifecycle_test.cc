// Several worker processes sharing objects, and object lifetimes: nested
// references, the live-object count, and a client killed mid-session.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <string>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "client/src/call.h"
#include "client/src/methods.h"
#include "client/src/object_handle.h"
#include "shoal/detail/proxy_access.h"
#include "integration/fixture.h"
#include "integration/waiting.h"

namespace shoal::testing {
namespace {

// Waits up to 10 s for the server's object count to reach want; returns the
// last count seen. Used where the event is the server ending a session, which
// a test cannot observe directly.
size_t AwaitObjectCount(const Manager& m, size_t want) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  size_t count = m.object_count();
  while (count != want && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    count = m.object_count();
  }
  return count;
}

class WorkersTest : public ServerTest {};

TEST_F(WorkersTest, WorkersAppendToOneListAndAddToOneValue) {
  constexpr int kWorkers = 4;
  constexpr int kEach = 250;
  std::vector<pid_t> pids;
  for (int w = 0; w < kWorkers; ++w) {
    pids.push_back(SpawnWorker({"append", server().address(), server().authkey_file(), "items",
                                "counter", std::to_string(kEach), std::to_string(w)}));
  }
  for (pid_t pid : pids) EXPECT_EQ(WaitWorker(pid), 0);
  Manager m = Connect();
  Value::List items = m.list("items").copy();
  ASSERT_EQ(items.size(), static_cast<size_t>(kWorkers * kEach));
  std::set<std::string> distinct;
  for (const Value& item : items) distinct.insert(item.as_str());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kWorkers * kEach));
  EXPECT_EQ(m.Value("q", 0, "counter").get().as_int(), kWorkers * kEach);
}

TEST_F(WorkersTest, ListNestedInDictIsUsedAcrossProcesses) {
  Manager m = Connect();
  DictProxy shared = m.dict("nest");
  ListProxy inner = m.list();
  shared.set("inner", inner);
  std::vector<pid_t> pids;
  for (int w = 0; w < 3; ++w) {
    pids.push_back(SpawnWorker({"nested", server().address(), server().authkey_file(), "nest"}));
  }
  std::set<int64_t> expected;
  for (pid_t pid : pids) {
    expected.insert(pid);
    EXPECT_EQ(WaitWorker(pid), 0);
  }
  std::set<int64_t> seen;
  for (const Value& v : inner.copy()) seen.insert(v.as_int());
  EXPECT_EQ(seen, expected);
  // What comes back out of the dict is a live proxy of the same list.
  ListProxy again(shared["inner"]);
  EXPECT_EQ(again.id(), inner.id());
  EXPECT_EQ(again.len(), 3u);
}

class LifetimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(std::vector<std::string>{"--stream-grace=100ms"});
    m_ = Manager::connect(server_->address(), AuthKey::from_file(server_->authkey_file()));
  }
  std::unique_ptr<ServerProcess> server_;
  Manager m_;
};

TEST_F(LifetimeTest, ObjectCountReturnsToZeroWhenProxiesAreGone) {
  {
    ListProxy l = m_.list(Ints({1, 2}));
    DictProxy d = m_.dict();
    NamespaceProxy ns = m_.Namespace();
    ValueProxy v = m_.Value("i", 1);
    d.set("l", l);
    ns.set("d", d);
    ListProxy copy = l;
    EXPECT_EQ(m_.object_count(), 4u);
  }
  EXPECT_EQ(m_.object_count(), 0u);
}

// How many times this process's threads named name have gone to sleep.
int64_t SleepsOfThreadsNamed(const std::string& name) {
  int64_t sleeps = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string its_name;
    if (!std::getline(comm, its_name) || its_name != name) continue;
    std::ifstream status(task.path() / "status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0) {
        sleeps += std::stoll(line.substr(line.find(':') + 1));
      }
    }
  }
  return sleeps;
}

// A proxy dropped between blocking calls is released in the next call's
// message, and the caller reads the release's reply with its own: the
// connection's reader thread is not woken for it.
TEST_F(LifetimeTest, AReleaseRidingWithABlockingCallWakesNoOtherThread) {
  ValueProxy v = m_.Value("i", 0);
  v.add(1);
  const int64_t before = SleepsOfThreadsNamed("shoal-reader");
  ASSERT_GE(before, 1) << "no thread named shoal-reader in this process";
  constexpr int kRounds = 200;
  for (int i = 0; i < kRounds; ++i) {
    (void)m_.list();
    v.add(1);
  }
  // Woken for each release, the reader would sleep again once per round at
  // least. A release the flusher sends by itself (the caller descheduled
  // for longer than it lingers) is read by the reader thread: a few may be.
  EXPECT_LT(SleepsOfThreadsNamed("shoal-reader") - before, kRounds / 2);
  EXPECT_EQ(v.get().as_int(), kRounds + 1);
  EXPECT_EQ(m_.object_count(), 1u);
}

// While a call is awaited, the replies to releases are left to its caller:
// one blocked for long on a parked call reads them as they come, so that
// objects(), which waits for every release sent before it, returns.
TEST_F(LifetimeTest, ReleasesSettleWhileAnotherThreadAwaitsAParkedCall) {
  EventProxy event = m_.Event();
  std::thread waiter([&event] { event.wait(); });
  // Whatever fails below, the waiter is let go and joined.
  absl::Cleanup release = [&event, &waiter] {
    event.set();
    waiter.join();
  };
  ASSERT_TRUE(AwaitWaiting(m_, event, 1));
  std::vector<ListProxy> lists;
  for (int i = 0; i < 10; ++i) lists.push_back(m_.list());
  lists.clear();
  EXPECT_EQ(m_.object_count(), 1u);
}

// A call can be awaited before its caller waits for it (a Pool's submission
// sends its other messages first). Replies to releases left for that
// caller meanwhile must not hold up objects(), which waits for every release
// sent before it: made here with the library's own call path, as the
// submission makes its calls.
TEST_F(LifetimeTest, ReleasesSettleWhileAnAwaitedCallWaitsForItsCaller) {
  ValueProxy v = m_.Value("i", 0);
  std::vector<ListProxy> lists;
  for (int i = 0; i < 10; ++i) lists.push_back(m_.list());
  // Written now and awaited, but not waited for until the end; no other
  // call is made on this thread meanwhile, so nothing here reads its reply.
  detail::ClientSession& session = detail::ProxyAccess::Handle(v)->session();
  Future<v1::ReleaseReply> awaited = detail::Start(
      session, nullptr, detail::method::Manager::Release, v1::ReleaseRequest(),
      detail::KeepAlive(), detail::WholeReply);
  lists.clear();
  // Bounded, so that a wait that never ends fails the test: the awaited
  // call's caller, which would read the replies, is this thread.
  std::future<size_t> counted =
      std::async(std::launch::async, [this] { return m_.object_count(); });
  const bool settled = counted.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  awaited.get();
  EXPECT_TRUE(settled) << "objects() waited for the awaited call's caller";
  EXPECT_EQ(counted.get(), 1u);
}

TEST_F(LifetimeTest, ContainerKeepsItsTargetAlive) {
  DictProxy d = m_.dict();
  {
    ListProxy l = m_.list(Ints({7}));
    d.set("l", l);
  }
  // The list's proxy is gone, but the dict refers to it.
  EXPECT_EQ(m_.object_count(), 2u);
  ListProxy back(d["l"]);
  EXPECT_EQ(back.copy(), Ints({7}));
  auto objects = m_.objects();
  ASSERT_EQ(objects.size(), 2u);
  d.del("l");
  EXPECT_EQ(m_.object_count(), 2u);  // back still holds it
  { ListProxy gone = std::move(back); }
  EXPECT_EQ(m_.object_count(), 1u);
}

TEST_F(LifetimeTest, ValuesHoldingReferencesKeepObjectsAlive) {
  ListProxy outer = m_.list();
  {
    DictProxy d = m_.dict({{"x", 1}});
    outer.append(d);
  }
  Value item = outer.pop();  // now only this Value refers to the dict
  EXPECT_EQ(m_.object_count(), 2u);
  EXPECT_EQ(DictProxy(item)["x"].as_int(), 1);
  item = Value();
  EXPECT_EQ(m_.object_count(), 1u);
}

TEST_F(LifetimeTest, NamedObjectsLiveUntilDeleted) {
  { m_.list("kept").append(1); }
  EXPECT_EQ(m_.object_count(), 1u);
  Manager other = Manager::connect(server_->address(), AuthKey::from_file(server_->authkey_file()));
  EXPECT_EQ(other.list("kept").len(), 1u);
  other.delete_named("kept");
  EXPECT_THROW(other.delete_named("kept"), KeyError);
  EXPECT_EQ(m_.object_count(), 0u);
}

TEST_F(LifetimeTest, KilledClientLeavesNoObjectBehind) {
  int out = -1;
  pid_t pid = SpawnWorker({"hold", server_->address(), server_->authkey_file()}, &out);
  ASSERT_EQ(ReadLine(out), "ready");
  EXPECT_EQ(m_.object_count(), 2u);
  kill(pid, SIGKILL);
  EXPECT_EQ(WaitWorker(pid), 128 + SIGKILL);
  EXPECT_EQ(AwaitObjectCount(m_, 0), 0u);
  close(out);
}

TEST_F(LifetimeTest, ClosedManagerGivesEverythingBack) {
  Manager other = Manager::connect(server_->address(), AuthKey::from_file(server_->authkey_file()));
  ListProxy l = other.list();
  l.append(1);
  EXPECT_EQ(m_.object_count(), 1u);
  other.close();
  EXPECT_THROW(l.append(2), ConnectionError);
  EXPECT_EQ(AwaitObjectCount(m_, 0), 0u);
}

}  // namespace
}  // namespace shoal::testing
