// Worker processes that die in the middle of a synchronization, and a
// producer/consumer run across processes. Python's manager leaves a killed
// worker's lock held for ever, loses the item its blocked get later
// swallows, and counts a dead barrier party as waiting; shoal must not.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/server_process.h"
#include "integration/waiting.h"
#include "shoal/shoal.h"

namespace shoal::testing {
namespace {

using namespace std::chrono_literals;

class FaultsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // A killed worker's session ends soon after its stream breaks.
    server_ = new ServerProcess({"--stream-grace=100ms"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static Manager Connect() {
    return Manager::connect(server_->address(), AuthKey::from_file(server_->authkey_file()));
  }
  static pid_t Spawn(std::vector<std::string> args, int* out) {
    args.insert(args.begin() + 1, {server_->address(), server_->authkey_file()});
    return SpawnWorker(args, out);
  }
  std::string Unique(const std::string& prefix) {
    return prefix + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  static void Kill(pid_t pid) {
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    EXPECT_EQ(WaitWorker(pid), 128 + SIGKILL);
  }

  inline static ServerProcess* server_ = nullptr;
};

TEST_F(FaultsTest, LockOfAKilledWorkerGoesToTheNextWaiter) {
  const std::string name = Unique("lock");
  int out = -1;
  pid_t worker = Spawn({"hold-lock", name}, &out);
  const std::string held = ReadLine(out);
  ASSERT_EQ(held.rfind("held ", 0), 0u) << held;
  const int64_t worker_token = std::stoll(held.substr(5));

  Manager m = Connect();
  LockProxy lock = m.Lock(name);
  EXPECT_FALSE(lock.acquire(false));
  std::thread waiter([&] { EXPECT_TRUE(lock.acquire()); });
  EXPECT_TRUE(AwaitWaiting(m, lock, 1));
  Kill(worker);
  waiter.join();  // granted once the worker's session ended
  EXPECT_GT(lock.fencing_token(), worker_token);
  lock.release();
  close(out);
}

TEST_F(FaultsTest, KilledBlockedGetterTakesNoItem) {
  const std::string name = Unique("queue");
  Manager m = Connect();
  QueueProxy q = m.Queue(0, name);
  int out = -1;
  pid_t worker = Spawn({"blocked-get", name}, &out);
  ASSERT_EQ(ReadLine(out), "ready");
  EXPECT_TRUE(AwaitWaiting(m, q, 1));
  Kill(worker);
  // Once the server has seen the worker go, its get is gone with it...
  EXPECT_TRUE(AwaitWaiting(m, q, 0));
  // ...so every item put afterwards is received, exactly once, by the living.
  for (int i = 0; i < 20; ++i) q.put(i);
  std::set<int64_t> received;
  for (int i = 0; i < 20; ++i) received.insert(q.get(true, 5s).as_int());
  EXPECT_EQ(received.size(), 20u);
  EXPECT_TRUE(q.empty());
  close(out);
}

TEST_F(FaultsTest, KilledGettersAmongLivingOnesLoseNothing) {
  const std::string name = Unique("queue");
  Manager m = Connect();
  QueueProxy q = m.Queue(0, name);
  // Two getters that will be killed, and one that lives and takes an item.
  int out[3] = {-1, -1, -1};
  pid_t workers[3];
  for (int w = 0; w < 3; ++w) {
    workers[w] = Spawn({"blocked-get", name}, &out[w]);
    ASSERT_EQ(ReadLine(out[w]), "ready");
  }
  EXPECT_TRUE(AwaitWaiting(m, q, 3));
  Kill(workers[0]);
  Kill(workers[2]);
  EXPECT_TRUE(AwaitWaiting(m, q, 1));
  q.put("for the living");
  EXPECT_EQ(ReadLine(out[1]), "got 'for the living'");
  Kill(workers[1]);
  for (int fd : out) close(fd);
  EXPECT_TRUE(q.empty());
}

TEST_F(FaultsTest, KilledBarrierPartyBreaksItForTheOthers) {
  const std::string name = Unique("barrier");
  Manager m = Connect();
  BarrierProxy barrier = m.Barrier(3, std::nullopt, name);
  int out = -1;
  pid_t worker = Spawn({"barrier-party", name, "3"}, &out);
  ASSERT_EQ(ReadLine(out), "ready");
  Manager other = Connect();
  BarrierProxy mine = other.attach<BarrierProxy>(barrier.token());
  std::thread party([&] { EXPECT_THROW(mine.wait(), BrokenBarrierError); });
  EXPECT_TRUE(AwaitWaiting(m, barrier, 2));
  Kill(worker);
  party.join();
  EXPECT_TRUE(barrier.broken());
  EXPECT_THROW(barrier.wait(), BrokenBarrierError);
  barrier.reset();
  EXPECT_FALSE(barrier.broken());
  close(out);
}

TEST_F(FaultsTest, FourConsumerProcessesTakeTenThousandItemsExactlyOnce) {
  constexpr int kWorkers = 4, kItems = 10000;
  const std::string queue = Unique("jobs"), done = Unique("done");
  Manager m = Connect();
  QueueProxy jobs = m.JoinableQueue(0, queue);
  ListProxy processed = m.list(done);
  std::vector<pid_t> workers;
  for (int w = 0; w < kWorkers; ++w) workers.push_back(Spawn({"consume", queue, done}, nullptr));
  for (int i = 0; i < kItems; ++i) jobs.put(i);
  for (int w = 0; w < kWorkers; ++w) jobs.put(Value());
  jobs.join();  // every item, and every None, marked done
  for (pid_t pid : workers) EXPECT_EQ(WaitWorker(pid), 0);
  Value::List items = processed.copy();
  ASSERT_EQ(items.size(), static_cast<size_t>(kItems));
  std::set<int64_t> distinct;
  for (const Value& item : items) distinct.insert(item.as_int());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kItems));
  EXPECT_EQ(*distinct.begin(), 0);
  EXPECT_EQ(*distinct.rbegin(), kItems - 1);
  EXPECT_TRUE(jobs.empty());
}

}  // namespace
}  // namespace shoal::testing
