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

#include "integration/fixture.h"
#include "integration/server_process.h"
#include "integration/waiting.h"
#include "shoal/shoal.h"

namespace shoal::testing {
namespace {

using namespace std::chrono_literals;

class FaultsTest : public ServerTest {
 protected:
  static void SetUpTestSuite() {
    // A killed worker's session ends soon after its stream breaks.
    server_ = new ServerProcess({"--stream-grace=100ms"});
  }
  static void Kill(pid_t pid) {
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    EXPECT_EQ(WaitWorker(pid), 128 + SIGKILL);
  }
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

// The signal idiom: a Semaphore(0) released by one process and acquired by
// another, which is then killed. As in Python, the signal it took is not
// handed out again.
TEST_F(FaultsTest, SignalTakenByAKilledWorkerIsNotDeliveredAgain) {
  Manager m = Connect();
  SemaphoreProxy signal = m.Semaphore(0);
  signal.release();
  int out = -1;
  pid_t worker = Spawn({"take-permit", signal.token()}, &out);
  ASSERT_EQ(ReadLine(out), "took");
  EXPECT_EQ(signal.value(), 0);
  ASSERT_EQ(m.describe(signal.id()).holders.size(), 1u);
  Kill(worker);
  // The server has ended the worker's session at the semaphore once it no
  // longer lists it as a holder.
  EXPECT_TRUE(AwaitWaiting("holders of the signal", 0, [&] {
    return static_cast<int64_t>(m.describe(signal.id()).holders.size());
  }));
  EXPECT_EQ(signal.value(), 0);
  EXPECT_FALSE(signal.acquire(false));
  signal.release();  // the next signal goes to the next consumer
  EXPECT_TRUE(signal.acquire(false));
  close(out);
}

// The pool idiom: a BoundedSemaphore's permit held by a worker that is killed
// comes back, to the process waiting for one.
TEST_F(FaultsTest, PoolPermitOfAKilledWorkerGoesToTheNextWaiter) {
  Manager m = Connect();
  SemaphoreProxy pool = m.BoundedSemaphore(1);
  int out = -1;
  pid_t worker = Spawn({"take-permit", pool.token()}, &out);
  ASSERT_EQ(ReadLine(out), "took");
  EXPECT_FALSE(pool.acquire(false));
  std::thread waiter([&] { EXPECT_TRUE(pool.acquire()); });
  EXPECT_TRUE(AwaitWaiting(m, pool, 1));
  Kill(worker);
  waiter.join();  // granted once the worker's session ended
  EXPECT_EQ(pool.value(), 0);
  pool.release();
  EXPECT_EQ(pool.value(), 1);
  close(out);
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

// A producer ends the work of consumer processes by shutting the queue down,
// as with Python 3.13's Queue.shutdown: the gets waiting in other processes
// raise ShutDown at once, and a consumer that comes later takes what was left
// and then gets ShutDown.
TEST_F(FaultsTest, ShutdownEndsTheGetsOfConsumerProcesses) {
  Manager m = Connect();
  QueueProxy q = m.JoinableQueue();
  int out[3] = {-1, -1, -1};
  pid_t workers[3];
  // Reads worker w's lines up to "shutdown", which must come, and its exit.
  auto lines_until_shutdown = [&](int w) {
    std::vector<std::string> lines;
    for (;;) {
      const std::string line = ReadLine(out[w]);
      if (line.empty() || line == "shutdown") {
        EXPECT_EQ(line, "shutdown") << "worker " << w;
        break;
      }
      lines.push_back(line);
    }
    EXPECT_EQ(WaitWorker(workers[w]), 0) << "worker " << w;
    close(out[w]);
    return lines;
  };
  for (int w = 0; w < 2; ++w) {
    workers[w] = Spawn({"get-until-shutdown", q.token()}, &out[w]);
    ASSERT_EQ(ReadLine(out[w]), "ready");
  }
  EXPECT_TRUE(AwaitWaiting(m, q, 2));
  q.put(1);  // each goes straight to a waiting consumer
  q.put(2);
  EXPECT_TRUE(AwaitWaiting(m, q, 2));  // both wait again
  q.shutdown();
  std::set<std::string> got;
  for (int w = 0; w < 2; ++w) {
    for (const std::string& line : lines_until_shutdown(w)) got.insert(line);
  }
  EXPECT_EQ(got, (std::set<std::string>{"got 1", "got 2"}));
  EXPECT_THROW(q.put(3), ShutDown);

  // Items in the queue when it is shut down are still handed out.
  QueueProxy left = m.Queue();
  left.put("a");
  left.put("b");
  left.shutdown();
  EXPECT_TRUE(left.is_shutdown());
  workers[2] = Spawn({"get-until-shutdown", left.token()}, &out[2]);
  ASSERT_EQ(ReadLine(out[2]), "ready");
  EXPECT_EQ(lines_until_shutdown(2), (std::vector<std::string>{"got 'a'", "got 'b'"}));
  EXPECT_TRUE(left.empty());
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
