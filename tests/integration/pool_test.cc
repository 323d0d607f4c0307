// shoal::Pool across real processes: local workers forked by the pool, and
// workers that are programs of their own serving a named pool; a worker
// killed mid-task, tasks that fail alone, terminate().
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/error_of.h"
#include "integration/pool_functions.h"
#include "integration/raw_client.h"
#include "integration/server_process.h"
#include "integration/sanitizers.h"
#include "integration/waiting.h"
#include "shoal/pool.h"
#include "shoal/shoal.h"
#include "shoal/v1/pool.grpc.pb.h"


namespace shoal::testing {
namespace {

class PoolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // A killed worker's session ends soon after its stream breaks.
    server_ = new ServerProcess({"--stream-grace=100ms"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    m_ = Manager::connect(server_->address(), AuthKey::from_file(server_->authkey_file()));
    fns_ = PoolTestFunctions(m_);
  }
  std::string Unique(const std::string& prefix) {
    return prefix + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  static Value::List Range(int n) {
    Value::List out;
    for (int i = 0; i < n; ++i) out.push_back(i);
    return out;
  }
  static Value::List Squares(int n) {
    Value::List out;
    for (int64_t i = 0; i < n; ++i) out.push_back(i * i);
    return out;
  }

  inline static ServerProcess* server_ = nullptr;
  Manager m_;
  Functions fns_;
};

TEST_F(PoolTest, ApplyAndMapReturnResultsInInputOrder) {
  Pool pool(m_, fns_, {.processes = 3});
  EXPECT_EQ(pool.apply("square", {7}), Value(49));
  EXPECT_EQ(pool.map("square", Range(1000)), Squares(1000));
  EXPECT_EQ(pool.map("square", Range(50), 7), Squares(50));
  EXPECT_EQ(pool.map("square", {}), Value::List());
  EXPECT_EQ(pool.starmap("add", {{1, 2}, {3, 4}, {5, 6}}),
            (Value::List{Value(3), Value(7), Value(11)}));
  AsyncResult r = pool.apply_async("add", {40, 2});
  EXPECT_EQ(r.get(std::chrono::seconds(30)), Value(42));
  EXPECT_TRUE(r.ready());
  EXPECT_TRUE(r.successful());
  EXPECT_EQ(pool.map_async("square", Range(10)).get(), Value(Squares(10)));
  EXPECT_EQ(pool.pids().size(), 3u);
  pool.close();
  pool.join();
  EXPECT_TRUE(pool.pids().empty());
}

TEST_F(PoolTest, ImapInOrderAndUnordered) {
  Pool pool(m_, fns_, {.processes = 2, .buffersize = 8});
  Value::List ordered;
  for (Value v : pool.imap("square", Range(100))) ordered.push_back(v);
  EXPECT_EQ(ordered, Squares(100));
  std::vector<int64_t> unordered;
  for (Value v : pool.imap_unordered("square", Range(100), 3)) unordered.push_back(v.as_int());
  std::sort(unordered.begin(), unordered.end());
  std::vector<int64_t> want;
  for (int64_t i = 0; i < 100; ++i) want.push_back(i * i);
  EXPECT_EQ(unordered, want);
  ResultIterator empty = pool.imap("square", {});
  EXPECT_EQ(empty.begin(), empty.end());
}

TEST_F(PoolTest, ErrorsAreRethrownInTheCallerAndFailTheirTaskAlone) {
  Pool pool(m_, fns_, {.processes = 2});
  EXPECT_THROW(pool.apply("key_error", {"k"}), KeyError);
  try {
    pool.apply("std_error", {"it broke"});
    ADD_FAILURE() << "no error";
  } catch (const RuntimeError& e) {
    EXPECT_STREQ(e.what(), "it broke");
  }
  EXPECT_THROW(pool.apply("no_such_function"), ValueError);
  // In a map, the failed task's error; the others still ran.
  EXPECT_THROW(pool.starmap("add", {{1, 2}, {"x", 1}, {3, 4}}), Error);
  ResultIterator it = pool.imap("key_error", {"a"});
  EXPECT_THROW(*it.begin(), KeyError);
  AsyncResult failed = pool.apply_async("key_error", {"b"});
  failed.wait();
  EXPECT_FALSE(failed.successful());
  // Callbacks, as Python's.
  std::promise<Value> got;
  std::promise<std::string> error;
  pool.apply_async("square", {5}, [&](const Value& v) { got.set_value(v); });
  pool.apply_async("key_error", {"c"}, nullptr, [&](std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const Error& err) {
      error.set_value(err.kind());
    }
  });
  EXPECT_EQ(got.get_future().get(), Value(25));
  EXPECT_EQ(error.get_future().get(), "KeyError");
  EXPECT_EQ(pool.apply("square", {3}), Value(9));
  pool.close();
  pool.join();
}

// Callbacks run on one thread of the pool's, whatever their number (as
// Python's result handler): a loop of apply_async with a callback does not
// start a thread for each call. join() returns once every callback has run.
TEST_F(PoolTest, ManyCallbacksRunOneAfterAnotherOnOneThread) {
  constexpr int kCalls = 300;
  Pool pool(m_, fns_, {.processes = 2});
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::set<int64_t> results;
  int errors = 0;
  for (int64_t i = 0; i < kCalls; ++i) {
    if (i % 50 == 49) {
      pool.apply_async("key_error", {"k"}, nullptr, [&](std::exception_ptr) {
        std::lock_guard<std::mutex> lock(mu);
        threads.insert(std::this_thread::get_id());
        ++errors;
      });
      continue;
    }
    pool.apply_async("square", {i}, [&](const Value& v) {
      std::lock_guard<std::mutex> lock(mu);
      threads.insert(std::this_thread::get_id());
      results.insert(v.as_int());
    });
  }
  pool.close();
  pool.join();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(errors, kCalls / 50);
  EXPECT_EQ(results.size(), static_cast<size_t>(kCalls - kCalls / 50));
  EXPECT_EQ(results.count(48 * 48), 1u);
  EXPECT_EQ(threads.size(), 1u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
}

TEST_F(PoolTest, InitializerAndMaxtasksperchild) {
  PoolOptions options;
  options.processes = 1;
  options.maxtasksperchild = 2;
  options.initializer = [] { pool_worker_initialized = 42; };
  Pool pool(m_, fns_, options);
  EXPECT_EQ(pool.apply("initialized"), Value(42));
  std::set<int64_t> pids;
  for (const Value& v : pool.map("pid", Range(6), 1)) pids.insert(v.as_int());
  // One worker at a time, each leaving after two tasks.
  EXPECT_GE(pids.size(), 3u);
  pool.close();
  pool.join();
}

TEST_F(PoolTest, AKilledWorkersTasksRunElsewhereAndEveryResultIsThere) {
#if SHOAL_HAS_ADDRESS_SANITIZER
  GTEST_SKIP() << "the pool forks replacement workers while its threads allocate";
#endif
  const std::string started = Unique("started");
  const std::string go = Unique("go");
  Pool pool(m_, fns_, {.processes = 2});
  std::vector<Value::List> args;
  for (int64_t i = 0; i < 6; ++i) args.push_back({started, go, i});
  AsyncResult r = pool.starmap_async("block", args, 1);
  // Both workers hold a task and wait in it.
  EventProxy event = m_.Event(go);
  ASSERT_TRUE(AwaitWaiting(m_, event, 2));
  const pid_t victim = static_cast<pid_t>(m_.list(started)[0].as_int());
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  event.set();
  EXPECT_EQ(r.get(std::chrono::seconds(60)), Value(Squares(6)));
  pool.close();
  pool.join();
}

TEST_F(PoolTest, ATaskThatKillsEveryWorkerFailsWithWorkerLostAfterTheRetries) {
#if SHOAL_HAS_ADDRESS_SANITIZER
  GTEST_SKIP() << "the pool forks replacement workers while its threads allocate";
#endif
  Pool pool(m_, fns_, {.processes = 2, .max_retries = 1});
  AsyncResult lost = pool.apply_async("die");
  EXPECT_THROW(lost.get(std::chrono::seconds(60)), WorkerLost);
  // The pool goes on, with workers that replaced the dead.
  EXPECT_EQ(pool.map("square", Range(20)), Squares(20));
  pool.close();
  pool.join();
}

TEST_F(PoolTest, AWorkerKilledMidChunkLeavesEveryResultOfItsChunk) {
#if SHOAL_HAS_ADDRESS_SANITIZER
  GTEST_SKIP() << "the pool forks replacement workers while its threads allocate";
#endif
  const std::string started = Unique("started");
  const std::string go = Unique("go");
  Pool pool(m_, fns_, {.processes = 2});
  // Two chunks of three; each worker runs the first task of its chunk, then
  // waits in the second.
  std::vector<Value::List> args;
  for (int64_t i = 0; i < 6; ++i) args.push_back({started, go, i, i % 3 == 1});
  AsyncResult r = pool.starmap_async("block_if", args, 3);
  EventProxy event = m_.Event(go);
  ASSERT_TRUE(AwaitWaiting(m_, event, 2));
  const pid_t victim = static_cast<pid_t>(m_.list(started)[0].as_int());
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  event.set();
  EXPECT_EQ(r.get(std::chrono::seconds(60)), Value(Squares(6)));
  pool.close();
  pool.join();
}

TEST_F(PoolTest, AChunkLostPastMaxRetriesFailsItsTasksAloneWithWorkerLost) {
#if SHOAL_HAS_ADDRESS_SANITIZER
  GTEST_SKIP() << "the pool forks replacement workers while its threads allocate";
#endif
  Pool pool(m_, fns_, {.processes = 2, .max_retries = 1});
  // Chunks [0, -1] and [2, 3]: -1 kills every worker that runs it, so its
  // chunk is lost twice (before its worker reported 0) and both of its tasks
  // fail; the other chunk's are done.
  const Value::List items{Value(0), Value(-1), Value(2), Value(3)};
  ResultIterator it = pool.imap("die_if_negative", items, 2);
  EXPECT_THROW(it.next(std::chrono::seconds(60)), WorkerLost);
  EXPECT_THROW(it.next(std::chrono::seconds(60)), WorkerLost);
  EXPECT_EQ(it.next(std::chrono::seconds(60)), Value(4));
  EXPECT_EQ(it.next(std::chrono::seconds(60)), Value(9));
  EXPECT_EQ(it.next(), std::nullopt);
  // map rethrows it too; the pool goes on, with workers that replaced the dead.
  EXPECT_THROW(pool.map("die_if_negative", items, 2), WorkerLost);
  EXPECT_EQ(pool.map("square", Range(20)), Squares(20));
  pool.close();
  pool.join();
}

TEST_F(PoolTest, AnErrorInsideAChunkFailsThatItemAlone) {
  Pool pool(m_, fns_, {.processes = 2});
  Value::List items{Value(0), Value(1), Value(-2), Value(3), Value(4)};
  EXPECT_THROW(pool.map("square_or_key_error", items, 5), KeyError);
  ResultIterator it = pool.imap("square_or_key_error", items, 5);
  EXPECT_EQ(it.next(), Value(0));
  EXPECT_EQ(it.next(), Value(1));
  EXPECT_THROW(it.next(), KeyError);
  EXPECT_EQ(it.next(), Value(9));
  EXPECT_EQ(it.next(), Value(16));
  EXPECT_EQ(it.next(), std::nullopt);
  // imap_unordered: four values and one error, in any order.
  int errors = 0;
  std::vector<int64_t> got;
  ResultIterator un = pool.imap_unordered("square_or_key_error", items, 5);
  for (int i = 0; i < 5; ++i) {
    try {
      got.push_back(un.next()->as_int());
    } catch (const KeyError&) {
      ++errors;
    }
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(errors, 1);
  EXPECT_EQ(got, (std::vector<int64_t>{0, 1, 9, 16}));
  pool.close();
  pool.join();
}

TEST_F(PoolTest, ImapBuffersizeBoundsTheTasksInFlightInWholeChunks) {
  PoolOptions options;
  options.processes = 2;
  options.buffersize = 10;
  Pool pool(m_, fns_, options);
  Value::List ordered;
  for (Value v : pool.imap("square", Range(100), 4)) ordered.push_back(v);
  EXPECT_EQ(ordered, Squares(100));
  // A buffersize under the chunksize: one chunk at a time.
  options.buffersize = 2;
  Pool small(m_, fns_, options);
  ordered.clear();
  for (Value v : small.imap("square", Range(30), 7)) ordered.push_back(v);
  EXPECT_EQ(ordered, Squares(30));
  pool.close();
  pool.join();
  small.close();
  small.join();
}

TEST_F(PoolTest, TerminateStopsTheWorkersAndFailsWhatIsNotDone) {
  const std::string started = Unique("started");
  Pool pool(m_, fns_, {.processes = 2});
  EventProxy never = m_.Event(Unique("never"));
  AsyncResult r = pool.apply_async("block", {started, Unique("never"), 1});
  ASSERT_TRUE(AwaitWaiting(m_, never, 1));
  const std::vector<pid_t> pids = pool.pids();
  ASSERT_EQ(pids.size(), 2u);
  pool.terminate();
  EXPECT_THROW(r.get(std::chrono::seconds(30)), RuntimeError);
  for (pid_t pid : pids) EXPECT_NE(kill(pid, 0), 0) << pid << " still runs";
  EXPECT_TRUE(pool.pids().empty());
  EXPECT_THROW(pool.apply("square", {2}), ValueError);
}

TEST_F(PoolTest, JoinBeforeCloseIsValueError) {
  Pool pool(m_, fns_, {.processes = 1});
  EXPECT_THROW(pool.join(), ValueError);
}

TEST_F(PoolTest, WorkersInSeparateProgramsServeANamedPool) {
  const std::string name = Unique("pool");
  const std::string started = Unique("started");
  const std::string go = Unique("go");
  Pool pool(m_, fns_, {.processes = 0, .name = name});
  std::vector<pid_t> workers;
  for (int i = 0; i < 2; ++i) {
    workers.push_back(SpawnWorker({"pool-serve", server_->address(), server_->authkey_file(), name}));
  }
  AsyncResult blocked = pool.starmap_async("block", {{started, go, 2}, {started, go, 3}}, 1);
  EventProxy event = m_.Event(go);
  ASSERT_TRUE(AwaitWaiting(m_, event, 2));
  std::set<int64_t> pids;
  for (const Value& v : m_.list(started).copy()) pids.insert(v.as_int());
  EXPECT_EQ(pids, std::set<int64_t>(workers.begin(), workers.end()));
  event.set();
  EXPECT_EQ(blocked.get(std::chrono::seconds(30)), Value(Value::List{Value(4), Value(9)}));
  EXPECT_EQ(pool.map("square", Range(200), 5), Squares(200));
  pool.close();
  for (pid_t pid : workers) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  pool.join();
}

TEST_F(PoolTest, ASeparateWorkerKilledMidTaskLosesNothing) {
  const std::string name = Unique("pool");
  const std::string started = Unique("started");
  const std::string go = Unique("go");
  Pool pool(m_, fns_, {.processes = 0, .name = name});
  const pid_t first =
      SpawnWorker({"pool-serve", server_->address(), server_->authkey_file(), name});
  AsyncResult r = pool.starmap_async("block", {{started, go, 5}}, 1);
  EventProxy event = m_.Event(go);
  ASSERT_TRUE(AwaitWaiting(m_, event, 1));
  ASSERT_EQ(kill(first, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(first, &status, 0), first);
  event.set();
  const pid_t second =
      SpawnWorker({"pool-serve", server_->address(), server_->authkey_file(), name});
  EXPECT_EQ(r.get(std::chrono::seconds(30)), Value(Value::List{Value(25)}));
  pool.close();
  ASSERT_EQ(waitpid(second, &status, 0), second);
  pool.join();
}

// Whether process pid has exited: gone, or a zombie that its new parent
// (the owner died) has not reaped yet.
bool Exited(pid_t pid) {
  if (kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

TEST_F(PoolTest, LocalWorkersExitWhenTheirOwnerIsKilled) {
  int out = -1;
  const pid_t owner =
      SpawnWorker({"pool-owner", server_->address(), server_->authkey_file(), "2"}, &out);
  const std::string line = ReadLine(out);
  close(out);
  ASSERT_EQ(line.rfind("pids ", 0), 0u) << line;
  std::vector<pid_t> pids;
  std::istringstream in(line.substr(5));
  for (pid_t pid; in >> pid;) pids.push_back(pid);
  ASSERT_EQ(pids.size(), 2u) << line;
  for (pid_t pid : pids) ASSERT_FALSE(Exited(pid)) << pid;
  ASSERT_EQ(kill(owner, SIGKILL), 0);
  EXPECT_EQ(WaitWorker(owner), 128 + SIGKILL);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (pid_t pid : pids) {
    while (!Exited(pid) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE(Exited(pid)) << "worker " << pid << " outlived its owner";
  }
}

TEST_F(PoolTest, DescribeShowsPendingLeasedAndDonePerWorker) {
  const std::string name = Unique("pool");
  const std::string started = Unique("started");
  const std::string go = Unique("go");
  Pool pool(m_, fns_, {.processes = 1, .name = name});
  AsyncResult r = pool.starmap_async("block", {{started, go, 1}, {started, go, 2}}, 1);
  EventProxy event = m_.Event(go);
  ASSERT_TRUE(AwaitWaiting(m_, event, 1));
  ObjectInfo info = m_.describe(name);
  EXPECT_EQ(info.kind, Kind::kPool);
  EXPECT_EQ(info.size, 1);  // pending
  ASSERT_EQ(info.holders.size(), 1u);
  EXPECT_EQ(info.holders[0].count, 1);  // leased to the worker
  EXPECT_NE(info.repr.find("1 pending, 1 leased, 0 done"), std::string::npos) << info.repr;
  event.set();
  EXPECT_EQ(r.get(std::chrono::seconds(30)), Value(Value::List{Value(1), Value(4)}));
  info = m_.describe(name);
  EXPECT_NE(info.repr.find("0 pending, 0 leased, 2 done"), std::string::npos) << info.repr;
  pool.close();
  pool.join();
}

// The library sends tasks and results packed; a client that does not ask for
// the packed form (grpcurl's JSON) gets them task by task, and its own tasks
// and results, sent task by task, reach the library's side.
TEST_F(PoolTest, PackedAndPerTaskFormsMeetOnOnePool) {
  const std::string name = Unique("pool");
  Pool pool(m_, fns_, {.processes = 0, .name = name});
  RawClient raw(server_->address());
  const std::string token = raw.Login(server_->authkey());
  ASSERT_FALSE(token.empty());
  auto stub = v1::PoolService::NewStub(raw.channel());

  // Packed by the library, pulled task by task.
  AsyncResult r = pool.map_async("square", Range(5), 5);
  v1::PullRequest pull;
  pull.set_name(name);
  pull.set_timeout(30);
  v1::PullReply tasks;
  ASSERT_TRUE(stub->Pull(RawClient::WithToken(token).get(), pull, &tasks).ok());
  ASSERT_EQ(tasks.tasks_size(), 5);
  EXPECT_FALSE(tasks.has_packed());
  v1::ReportRequest report;
  report.set_name(name);
  for (const v1::PoolTask& t : tasks.tasks()) {
    EXPECT_EQ(t.function(), "square");
    ASSERT_EQ(t.args_size(), 1);
    EXPECT_EQ(t.args(0).int_(), t.index());
    v1::TaskResult* result = report.add_results();
    result->set_job(t.job());
    result->set_index(t.index());
    result->set_chunk(t.chunk());
    if (t.index() == 3) {
      result->mutable_error()->set_kind("KeyError");
      result->mutable_error()->set_message("three");
    } else {
      result->mutable_value()->set_int_(t.args(0).int_() * t.args(0).int_());
    }
  }
  v1::EmptyReply empty;
  ASSERT_TRUE(stub->Report(RawClient::WithToken(token).get(), report, &empty).ok());
  EXPECT_THROW(r.get(std::chrono::seconds(30)), KeyError);

  // Task by task from a client, pulled by one that asks for packed chunks
  // (which gets them as they came), reported packed, fetched task by task.
  v1::SubmitRequest submit;
  submit.set_name(name);
  submit.set_function("square");
  submit.set_chunksize(3);
  for (int i = 0; i < 3; ++i) {
    v1::PoolTask* t = submit.add_tasks();
    t->set_index(i);
    t->add_args()->set_int_(i + 10);
  }
  v1::SubmitReply job;
  ASSERT_TRUE(stub->Submit(RawClient::WithToken(token).get(), submit, &job).ok());
  pull.set_packed(true);
  ASSERT_TRUE(stub->Pull(RawClient::WithToken(token).get(), pull, &tasks).ok());
  ASSERT_EQ(tasks.tasks_size(), 3);
  report.Clear();
  report.set_name(name);
  v1::PackedResults* packed = report.mutable_packed_results();
  packed->set_job(job.job());
  packed->set_chunk(tasks.tasks(0).chunk());
  v1::ListValue values;
  for (const v1::PoolTask& t : tasks.tasks()) {
    packed->add_indexes(t.index());
    values.add_items()->set_int_(t.args(0).int_() + 1);
  }
  packed->set_values(values.SerializeAsString());
  ASSERT_TRUE(stub->Report(RawClient::WithToken(token).get(), report, &empty).ok());
  v1::ResultsRequest fetch;
  fetch.set_name(name);
  fetch.set_job(job.job());
  v1::ResultsReply results;
  ASSERT_TRUE(stub->Results(RawClient::WithToken(token).get(), fetch, &results).ok());
  ASSERT_EQ(results.results_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(results.results(i).index(), i);
    EXPECT_EQ(results.results(i).job(), job.job());
    EXPECT_EQ(results.results(i).value().int_(), i + 11);
  }

  // Packed values holding an object reference are refused.
  submit.clear_tasks();
  v1::ListValue args;
  v1::ObjectRef* ref = args.add_items()->mutable_list()->add_items()->mutable_ref();
  ref->set_id(1);
  ref->set_kind(v1::LIST);
  submit.mutable_packed()->set_args(args.SerializeAsString());
  grpc::Status refused = stub->Submit(RawClient::WithToken(token).get(), submit, &job);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << refused.error_message();
  pool.terminate();
}

// Arguments holding object references go task by task, and reach the
// worker as references.
TEST_F(PoolTest, ArgumentsHoldingReferencesStillReachTheWorkers) {
  Functions fns = fns_;
  fns.add("ref_id",
          [](const Value::List& a) { return Value(static_cast<int64_t>(a.at(0).as_ref().id)); });
  Pool pool(m_, fns, {.processes = 1});
  ListProxy list = m_.list();
  const Value ref = list.ref();
  const int64_t id = static_cast<int64_t>(ref.as_ref().id);
  EXPECT_EQ(pool.map("ref_id", {ref, ref}, 1), (Value::List{Value(id), Value(id)}));
  pool.close();
  pool.join();
}

TEST_F(PoolTest, TasksAndResultsCountAgainstMaxBytes) {
  ServerProcess server({"--max-bytes=300000"});
  Manager m = Manager::connect(server.address(), AuthKey::from_file(server.authkey_file()));
  Functions fns = PoolTestFunctions(m);
  Pool pool(m, fns, {.processes = 2});
  // Arguments past the limit: LimitError in the caller.
  EXPECT_THROW(pool.apply("length", {std::string(400000, 'x')}), LimitError);
  // A result past the limit fails its task alone, with LimitError.
  EXPECT_THROW(pool.apply("text", {400000}), LimitError);
  EXPECT_EQ(pool.apply("text", {3}), Value("rrr"));
  Value::List lengths = pool.map("length", Value::List(40, Value(std::string(4000, 'x'))));
  EXPECT_EQ(lengths, Value::List(40, Value(4000)));
  // What the pool held was given back: the room is there for a list.
  ListProxy room = m.list();
  room.append(std::string(250000, 'z'));
  EXPECT_EQ(room.len(), 1u);
  pool.close();
  pool.join();
}

}  // namespace
}  // namespace shoal::testing
