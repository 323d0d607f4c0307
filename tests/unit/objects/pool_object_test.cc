#include "server/objects/pool_object.h"

#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/unit/objects/manual_timers.h"
#include "tests/unit/objects/recorder.h"
#include "tests/unit/objects/test_util.h"

namespace shoal::server {
namespace {

using ::shoal::server::testing::ManualTimers;
using ::shoal::server::testing::Recorder;
using ::shoal::testing_util::IsError;
using ::shoal::testing_util::IsKind;

constexpr SessionId kCaller = 1;
constexpr SessionId kWorkerA = 2;
constexpr SessionId kWorkerB = 3;

// Packed tasks of "f" at indexes, each record named by record(index).
template <typename Record>
std::vector<PoolObject::Task> PackedTasks(const std::vector<int64_t>& indexes, Record record) {
  std::vector<PoolObject::Task> tasks;
  for (int64_t i : indexes) {
    PoolObject::Task t;
    t.index = i;
    t.function = "f";
    t.packed = record(i);
    tasks.push_back(std::move(t));
  }
  return tasks;
}

class PoolObjectTest : public ::testing::Test {
 protected:
  WaitRequest Request(std::string name, SessionId session,
                      std::optional<absl::Time> deadline = std::nullopt) {
    return WaitRequest{Caller{session}, deadline, recorder_.Track(std::move(name))};
  }

  // Submits tasks "f"(i) for each index, to job (0: new); returns the job.
  uint64_t Submit(std::vector<int64_t> indexes, uint64_t job = 0, int64_t chunksize = 0) {
    std::vector<PoolObject::Task> tasks;
    for (int64_t i : indexes) tasks.push_back({i, "f", Value::List{Value(i)}, ""});
    absl::StatusOr<uint64_t> got = pool_->Submit(job, chunksize, std::move(tasks));
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *got : 0;
  }
  // The tasks a call named name was given, none packed: [job, index,
  // function, args, attempt, chunk] each.
  Value::List Tasks(const std::string& name) {
    Outcome o = recorder_.Of(name);
    EXPECT_TRUE(o.status.ok()) << o.status;
    if (!o.value.is_list() || o.value.as_list().empty()) return {};
    const Value::List& f = o.value.as_list();
    EXPECT_EQ(f.size(), 5u);
    EXPECT_EQ(f[0], Value(false));
    Value::List out;
    for (const Value& t : f[4].as_list()) {
      const Value::List& task = t.as_list();
      out.push_back(Value(Value::List{f[1], task[0], task[1], task[2], f[3], f[2]}));
    }
    return out;
  }
  static PoolObject::Result Ok(uint64_t job, int64_t index, Value value, uint64_t chunk = 0) {
    PoolObject::Result r;
    r.job = job;
    r.index = index;
    r.chunk = chunk;
    r.value = std::move(value);
    return r;
  }
  // The chunk (lease) of the tasks a call was given, the same for each.
  uint64_t ChunkOf(const std::string& name) {
    Value::List got = Tasks(name);
    EXPECT_FALSE(got.empty());
    if (got.empty()) return 0;
    const Value chunk = got[0].as_list()[5];
    for (const Value& t : got) EXPECT_EQ(t.as_list()[5], chunk);
    return static_cast<uint64_t>(chunk.as_int());
  }
  static PoolObject::Result Failed(uint64_t job, int64_t index, std::string kind) {
    PoolObject::Result r;
    r.job = job;
    r.index = index;
    r.ok = false;
    r.error_kind = std::move(kind);
    r.error_message = "it failed";
    return r;
  }
  // Results of a call, none packed: [job, index, ok, value or kind, message]
  // each.
  Value::List Results(const std::string& name) {
    Outcome o = recorder_.Of(name);
    EXPECT_TRUE(o.status.ok()) << o.status;
    if (!o.value.is_list()) return {};
    const Value::List& f = o.value.as_list();
    EXPECT_EQ(f.size(), 4u);
    EXPECT_EQ(f[2], Value(Value::List()));
    return f[3].as_list();
  }

  ManualTimers timers_;
  Recorder recorder_;
  std::unique_ptr<PoolObject> pool_ = std::make_unique<PoolObject>(2, nullptr, &timers_);
};

TEST_F(PoolObjectTest, SubmittedTasksArePulledInOrderAndLeased) {
  EXPECT_EQ(pool_->kind(), Kind::kPool);
  const uint64_t job = Submit({0, 1, 2});
  EXPECT_NE(job, 0u);
  EXPECT_EQ(pool_->Size(), 3);
  EXPECT_EQ(pool_->Pull(Request("a", kWorkerA), 0), 0u);
  Value::List got = Tasks("a");
  ASSERT_EQ(got.size(), 1u);  // chunksize 1
  ASSERT_EQ(got[0].as_list().size(), 6u);
  const Value chunk = got[0].as_list()[5];
  EXPECT_GT(chunk.as_int(), 0);
  EXPECT_EQ(got[0], Value(Value::List{Value(static_cast<int64_t>(job)), Value(0), Value("f"),
                                      Value(Value::List{Value(0)}), Value(0), chunk}));
  PoolObject::Stats s = pool_->GetStats();
  EXPECT_EQ(s.pending, 2);
  EXPECT_EQ(s.leased, 1);
  Holdings held = pool_->Held();
  ASSERT_EQ(held.held.size(), 1u);
  EXPECT_EQ(held.held[0], std::make_pair(kWorkerA, int64_t{1}));
  EXPECT_EQ(pool_->Repr(), "<Pool open, 2 pending, 1 leased, 0 done; session 2: 1 leased, 0 done>");
}

TEST_F(PoolObjectTest, PackedTasksAndResultsPassThroughAsTheyCame) {
  // Packed records are kept and handed on as bytes, never decoded here.
  std::vector<PoolObject::Task> tasks =
      PackedTasks({0, 1, 2}, [](int64_t i) { return "arg" + std::to_string(i); });
  tasks.push_back({3, "f", Value::List{Value(3)}, ""});  // a task apart: a chunk of its own
  absl::StatusOr<uint64_t> job = pool_->Submit(0, 2, std::move(tasks));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(pool_->GetStats().pending_chunks, 3);
  pool_->Pull(Request("a", kWorkerA), 0);
  Outcome a = recorder_.Of("a");
  ASSERT_TRUE(a.status.ok());
  const Value::List& f = a.value.as_list();
  ASSERT_EQ(f.size(), 7u);
  EXPECT_EQ(f[0], Value(true));
  EXPECT_EQ(f[1], Value(static_cast<int64_t>(*job)));
  const int64_t chunk = f[2].as_int();
  EXPECT_EQ(f[4], Value("f"));
  EXPECT_EQ(f[5], Value(0));  // consecutive: the first alone
  EXPECT_EQ(f[6], Value::bytes("arg0arg1"));
  EXPECT_EQ(pool_->GetStats().leased, 2);

  std::vector<PoolObject::Result> results;
  PoolObject::Result r0 = Ok(*job, 0, Value(), static_cast<uint64_t>(chunk));
  r0.packed = "res0";
  results.push_back(std::move(r0));
  results.push_back(Failed(*job, 1, "KeyError"));
  results.back().chunk = static_cast<uint64_t>(chunk);
  EXPECT_EQ(pool_->Report(std::move(results)), 2);
  pool_->Results(Request("r", kCaller), *job, 0, 0, false);
  Outcome r = recorder_.Of("r");
  ASSERT_TRUE(r.status.ok());
  const Value::List& got = r.value.as_list();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[1], Value::bytes("res0"));
  EXPECT_EQ(got[2], Value(Value::List{Value(0), Value(1)}));  // one run: index 0, 1 long
  ASSERT_EQ(got[3].as_list().size(), 1u);
  EXPECT_EQ(got[3].as_list()[0].as_list()[3], Value("KeyError"));

  // The packed chunk's last task comes alone; the task apart after it.
  pool_->Pull(Request("b", kWorkerB), 0);
  EXPECT_EQ(recorder_.Of("b").value.as_list()[6], Value::bytes("arg2"));
  pool_->Pull(Request("c", kWorkerB), 0);
  ASSERT_EQ(Tasks("c").size(), 1u);
  EXPECT_EQ(Tasks("c")[0].as_list()[1], Value(3));
}

TEST_F(PoolObjectTest, PackedIndexesGoAsRunsAndAListWhenNotConsecutive) {
  absl::StatusOr<uint64_t> job = pool_->Submit(
      0, 4, PackedTasks({0, 1, 2, 3}, [](int64_t i) { return "a" + std::to_string(i); }));
  ASSERT_TRUE(job.ok()) << job.status();
  pool_->Pull(Request("a", kWorkerA), 0);
  const Value::List& a = recorder_.Of("a").value.as_list();
  EXPECT_EQ(a[5], Value(0));
  // Task 1 reported, then the worker lost: 0, 2 and 3 go back, not
  // consecutive any more.
  PoolObject::PackedReport one;
  one.job = *job;
  one.chunk = static_cast<uint64_t>(a[2].as_int());
  one.first_index = 1;
  one.values = "r1";
  one.ends = {2};
  EXPECT_EQ(pool_->Report({}, &one), 1);
  pool_->EndSession(kWorkerA);
  pool_->Pull(Request("b", kWorkerB), 0);
  const Value::List& b = recorder_.Of("b").value.as_list();
  EXPECT_EQ(b[5], Value(Value::List{Value(0), Value(2), Value(3)}));
  EXPECT_EQ(b[6], Value::bytes("a0a2a3"));
  PoolObject::PackedReport rest;
  rest.job = *job;
  rest.chunk = static_cast<uint64_t>(b[2].as_int());
  rest.indexes = {0, 2, 3};
  rest.values = "r0r2r3";
  rest.ends = {2, 4, 6};
  EXPECT_EQ(pool_->Report({}, &rest), 3);
  // In order, as one run from 0.
  pool_->Results(Request("r", kCaller), *job, 0, 0, false);
  const Value::List& r = recorder_.Of("r").value.as_list();
  EXPECT_EQ(r[1], Value::bytes("r0r1r2r3"));
  EXPECT_EQ(r[2], Value(Value::List{Value(0), Value(4)}));
}

// Packed tasks 0..n-1 of "f" in one chunk; returns the job, and the
// lease pulled by worker A in *chunk.
uint64_t SubmitPackedAndPull(PoolObject& pool, Recorder& recorder, int n, uint64_t* chunk) {
  std::vector<int64_t> indexes(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) indexes[static_cast<size_t>(i)] = i;
  absl::StatusOr<uint64_t> job =
      pool.Submit(0, n, PackedTasks(indexes, [](int64_t) { return std::string("a"); }));
  EXPECT_TRUE(job.ok()) << job.status();
  pool.Pull(WaitRequest{Caller{kWorkerA}, std::nullopt, recorder.Track("pull")}, 0);
  *chunk = static_cast<uint64_t>(recorder.Of("pull").value.as_list()[2].as_int());
  return job.ok() ? *job : 0;
}

TEST_F(PoolObjectTest, AnOrderedFetchFromInsideABlockTakesFromThere) {
  uint64_t chunk = 0;
  const uint64_t job = SubmitPackedAndPull(*pool_, recorder_, 4, &chunk);
  PoolObject::PackedReport all;
  all.job = job;
  all.chunk = chunk;
  all.values = "r0r1r2r3";
  all.ends = {2, 4, 6, 8};
  EXPECT_EQ(pool_->Report({}, &all), 4);
  // From 2: the block of 0..3 is split there.
  pool_->Results(Request("from2", kCaller), job, 2, 0, false);
  Outcome from2 = recorder_.Of("from2");
  ASSERT_TRUE(from2.status.ok()) << from2.status;
  EXPECT_EQ(from2.value.as_list()[1], Value::bytes("r2r3"));
  EXPECT_EQ(from2.value.as_list()[2], Value(Value::List{Value(2), Value(2)}));
  pool_->Results(Request("from0", kCaller), job, 0, 0, false);
  EXPECT_EQ(recorder_.Of("from0").value.as_list()[1], Value::bytes("r0r1"));
}

TEST_F(PoolObjectTest, ABlockFetchedOneAtATimeWhileItGrowsKeepsLittleMoreThanWhatWaits) {
  uint64_t chunk = 0;
  const int n = 1000;
  const uint64_t job = SubmitPackedAndPull(*pool_, recorder_, n, &chunk);
  const std::string record(10, 'r');
  for (int i = 0; i < n; ++i) {
    PoolObject::PackedReport one;
    one.job = job;
    one.chunk = chunk;
    one.first_index = i;
    one.values = record;
    one.ends = {10};
    ASSERT_EQ(pool_->Report({}, &one), 1);
    if (i == 0) continue;
    // The caller stays one result behind, fetching one at a time.
    const std::string name = "fetch" + std::to_string(i);
    pool_->Results(Request(name, kCaller), job, i - 1, 1, false);
    ASSERT_EQ(recorder_.Of(name).value.as_list()[1], Value::bytes(record)) << i;
    EXPECT_LE(pool_->KeptRecordBytes(), 2 * 10 + 10) << i;
  }
}

TEST_F(PoolObjectTest, TheLastIndexIsFetchedWithoutWrappingAround) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  std::vector<PoolObject::Task> tasks =
      PackedTasks({kMax - 1, kMax}, [](int64_t) { return std::string("a"); });
  tasks.push_back({std::numeric_limits<int64_t>::min(), "f", Value::List{Value(0)}, ""});
  absl::StatusOr<uint64_t> job = pool_->Submit(0, 2, std::move(tasks));
  ASSERT_TRUE(job.ok()) << job.status();
  pool_->Pull(Request("a", kWorkerA), 0);
  const Value::List& a = recorder_.Of("a").value.as_list();
  EXPECT_EQ(a[5], Value(kMax - 1));
  pool_->Pull(Request("b", kWorkerA), 0);
  ASSERT_EQ(Tasks("b").size(), 1u);
  PoolObject::PackedReport top;
  top.job = *job;
  top.chunk = static_cast<uint64_t>(a[2].as_int());
  top.first_index = kMax - 1;
  top.values = "xy";
  top.ends = {1, 2};
  EXPECT_EQ(pool_->Report({Ok(*job, std::numeric_limits<int64_t>::min(), Value(1))}, &top), 3);
  // In order from kMax - 1: two results, and not the one at the bottom.
  pool_->Results(Request("r", kCaller), *job, kMax - 1, 0, false);
  const Value::List& r = recorder_.Of("r").value.as_list();
  EXPECT_EQ(r[1], Value::bytes("xy"));
  EXPECT_EQ(r[2], Value(Value::List{Value(kMax - 1), Value(2)}));
  EXPECT_TRUE(r[3].as_list().empty());
}

TEST_F(PoolObjectTest, APullTakesAChunkOfOneJobBoundedByMax) {
  const uint64_t job = Submit({0, 1, 2, 3, 4}, 0, 3);
  Submit({0}, 0, 10);
  pool_->Pull(Request("a", kWorkerA), 0);
  EXPECT_EQ(Tasks("a").size(), 3u);
  pool_->Pull(Request("b", kWorkerB), 1);
  ASSERT_EQ(Tasks("b").size(), 1u);
  pool_->Pull(Request("c", kWorkerB), 0);
  // The rest of the first job only, not the second job's task.
  ASSERT_EQ(Tasks("c").size(), 1u);
  EXPECT_EQ(Tasks("c")[0].as_list()[0], Value(static_cast<int64_t>(job)));
  EXPECT_EQ(Tasks("c")[0].as_list()[1], Value(4));
}

TEST_F(PoolObjectTest, AChunkIsPendingAndLeasedAsOneEntryAndCountedByTasks) {
  const uint64_t job = Submit({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 0, 4);
  PoolObject::Stats s = pool_->GetStats();
  EXPECT_EQ(s.pending, 10);
  EXPECT_EQ(s.pending_chunks, 3);  // 4 + 4 + 2
  pool_->Pull(Request("a", kWorkerA), 0);
  ASSERT_EQ(Tasks("a").size(), 4u);
  const uint64_t chunk = ChunkOf("a");
  s = pool_->GetStats();
  EXPECT_EQ(s.pending, 6);
  EXPECT_EQ(s.pending_chunks, 2);
  EXPECT_EQ(s.leased, 4);
  EXPECT_EQ(s.leased_chunks, 1);
  EXPECT_EQ(pool_->Held().held[0], std::make_pair(kWorkerA, int64_t{4}));
  // Part of the chunk reported: the rest stays leased.
  EXPECT_EQ(pool_->Report({Ok(job, 0, Value(0), chunk), Ok(job, 1, Value(1), chunk)}), 2);
  s = pool_->GetStats();
  EXPECT_EQ(s.leased, 2);
  EXPECT_EQ(s.leased_chunks, 1);
  // A result reported twice, or naming another chunk, is ignored.
  EXPECT_EQ(pool_->Report({Ok(job, 1, Value(1), chunk), Ok(job, 2, Value(4), chunk + 100)}), 0);
  EXPECT_EQ(pool_->Report({Ok(job, 2, Value(4), chunk), Ok(job, 3, Value(9), chunk)}), 2);
  s = pool_->GetStats();
  EXPECT_EQ(s.leased, 0);
  EXPECT_EQ(s.leased_chunks, 0);
  EXPECT_EQ(s.done, 4);
  EXPECT_EQ(pool_->Repr(), "<Pool open, 6 pending, 0 leased, 4 done; session 2: 0 leased, 4 done>");
  // A chunk never spans two submits.
  Submit({10}, job);
  pool_->Pull(Request("b", kWorkerB), 0);
  pool_->Pull(Request("c", kWorkerB), 0);
  pool_->Pull(Request("d", kWorkerB), 0);
  EXPECT_EQ(Tasks("b").size(), 4u);
  EXPECT_EQ(Tasks("c").size(), 2u);
  ASSERT_EQ(Tasks("d").size(), 1u);
  EXPECT_EQ(Tasks("d")[0].as_list()[1], Value(10));
  EXPECT_NE(ChunkOf("b"), ChunkOf("c"));
}

TEST_F(PoolObjectTest, ALostChunkGoesBackWithTheTasksNotReported) {
  const uint64_t job = Submit({0, 1, 2, 3}, 0, 4);
  pool_->Pull(Request("a", kWorkerA), 0);
  const uint64_t chunk = ChunkOf("a");
  EXPECT_EQ(pool_->Report({Ok(job, 1, Value(10), chunk)}), 1);
  pool_->EndSession(kWorkerA);
  PoolObject::Stats s = pool_->GetStats();
  EXPECT_EQ(s.pending, 3);
  EXPECT_EQ(s.pending_chunks, 1);
  EXPECT_EQ(s.leased, 0);
  pool_->Pull(Request("b", kWorkerB), 0);
  Value::List got = Tasks("b");
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].as_list()[1], Value(0));
  EXPECT_EQ(got[1].as_list()[1], Value(2));
  EXPECT_EQ(got[2].as_list()[1], Value(3));
  EXPECT_EQ(got[0].as_list()[4], Value(1));  // attempt
  const uint64_t again = ChunkOf("b");
  EXPECT_NE(again, chunk);
  // The lost lease's id is no good any more.
  EXPECT_EQ(pool_->Report({Ok(job, 0, Value(0), chunk)}), 0);
  EXPECT_EQ(pool_->Report({Ok(job, 0, Value(0), again), Ok(job, 2, Value(20), again),
                           Ok(job, 3, Value(30), again)}),
            3);
  pool_->Results(Request("r", kCaller), job, 0, 0, false);
  got = Results("r");
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[1].as_list()[3], Value(10));  // reported before the loss
  EXPECT_EQ(got[3].as_list()[3], Value(30));
}

TEST_F(PoolObjectTest, AChunkLostPastMaxRetriesFailsItsTasksAlone) {
  const uint64_t job = Submit({0, 1, 2, 3}, 0, 2);
  // max_retries is 2: three losses of the first chunk fail its tasks.
  for (int loss = 0; loss < 3; ++loss) {
    const std::string name = "pull" + std::to_string(loss);
    pool_->Pull(Request(name, 10 + loss), 0);
    ASSERT_EQ(Tasks(name).size(), 2u);
    EXPECT_EQ(Tasks(name)[0].as_list()[1], Value(0));
    pool_->EndSession(10 + loss);
  }
  pool_->Results(Request("r", kCaller), job, 0, 0, true);
  Value::List got = Results("r");
  ASSERT_EQ(got.size(), 2u);
  for (const Value& r : got) {
    EXPECT_EQ(r.as_list()[2], Value(false));
    EXPECT_EQ(r.as_list()[3], Value("WorkerLost"));
  }
  // The other chunk still runs, and its tasks succeed.
  pool_->Pull(Request("last", kWorkerB), 0);
  ASSERT_EQ(Tasks("last").size(), 2u);
  EXPECT_EQ(Tasks("last")[0].as_list()[4], Value(0));
  const uint64_t chunk = ChunkOf("last");
  EXPECT_EQ(pool_->Report({Ok(job, 2, Value(4), chunk), Ok(job, 3, Value(9), chunk)}), 2);
  pool_->Results(Request("r2", kCaller), job, 2, 0, false);
  got = Results("r2");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].as_list()[3], Value(4));
}

TEST_F(PoolObjectTest, AFailedTaskFailsAloneInItsChunk) {
  const uint64_t job = Submit({0, 1, 2}, 0, 3);
  pool_->Pull(Request("a", kWorkerA), 0);
  const uint64_t chunk = ChunkOf("a");
  PoolObject::Result bad = Failed(job, 1, "KeyError");
  bad.chunk = chunk;
  EXPECT_EQ(pool_->Report({Ok(job, 0, Value(0), chunk), bad, Ok(job, 2, Value(4), chunk)}), 3);
  pool_->Results(Request("r", kCaller), job, 0, 0, false);
  Value::List got = Results("r");
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].as_list()[2], Value(true));
  EXPECT_EQ(got[1].as_list()[3], Value("KeyError"));
  EXPECT_EQ(got[2].as_list()[3], Value(4));
}

TEST_F(PoolObjectTest, AnIndexMayComeBackOnceFetched) {
  const uint64_t job = Submit({0, 1, 2, 3, 4});
  // Refused as a whole: 9 and 8 are not added either.
  std::vector<PoolObject::Task> mixed;
  mixed.push_back({9, "f", {}, ""});
  mixed.push_back({8, "f", {}, ""});
  mixed.push_back({2, "f", {}, ""});
  EXPECT_TRUE(IsKind(pool_->Submit(job, 0, std::move(mixed)).status(), ErrorKind::kValueError));
  EXPECT_EQ(pool_->Size(), 5);
  Submit({9, 8, 5}, job);
  for (int i = 0; i < 3; ++i) {
    const std::string name = "p" + std::to_string(i);
    pool_->Pull(Request(name, kWorkerA), 0);
    Value::List got = Tasks(name);
    ASSERT_EQ(got.size(), 1u);
    pool_->Report({Ok(job, got[0].as_list()[1].as_int(), Value(1))});
  }
  // 0, 1 and 2 are fetched: 1 may be submitted again, 3 may not.
  pool_->Results(Request("r", kCaller), job, 0, 0, false);
  ASSERT_EQ(Results("r").size(), 3u);
  Submit({1}, job);
  std::vector<PoolObject::Task> live;
  live.push_back({3, "f", {}, ""});
  EXPECT_TRUE(IsKind(pool_->Submit(job, 0, std::move(live)).status(), ErrorKind::kValueError));
  std::vector<PoolObject::Task> extreme;
  extreme.push_back({std::numeric_limits<int64_t>::max(), "f", {}, ""});
  extreme.push_back({std::numeric_limits<int64_t>::min(), "f", {}, ""});
  EXPECT_TRUE(pool_->Submit(job, 0, std::move(extreme)).ok());
  EXPECT_EQ(pool_->Size(), 8);  // 3, 4, 9, 8, 5, 1 and the two extremes
}

TEST_F(PoolObjectTest, APullWaitsForASubmit) {
  const WaitId id = pool_->Pull(Request("a", kWorkerA), 0);
  EXPECT_NE(id, 0u);
  EXPECT_FALSE(recorder_.Has("a"));
  EXPECT_EQ(pool_->Held().waiting.size(), 1u);
  Submit({7});
  ASSERT_EQ(Tasks("a").size(), 1u);
  EXPECT_EQ(Tasks("a")[0].as_list()[1], Value(7));
}

TEST_F(PoolObjectTest, APullPastItsDeadlineGetsNothing) {
  pool_->Pull(Request("a", kWorkerA, timers_.Now() + absl::Seconds(1)), 0);
  timers_.Advance(absl::Seconds(2));
  EXPECT_TRUE(Tasks("a").empty());
  EXPECT_EQ(pool_->Pull(Request("b", kWorkerA, timers_.Now()), 0), 0u);
  EXPECT_TRUE(Tasks("b").empty());
}

TEST_F(PoolObjectTest, ResultsInOrderWaitForTheirIndexAndAreGivenOnce) {
  const uint64_t job = Submit({0, 1, 2}, 0, 3);
  pool_->Pull(Request("a", kWorkerA), 0);
  const WaitId fetch = pool_->Results(Request("r", kCaller), job, 0, 0, false);
  EXPECT_NE(fetch, 0u);
  // Index 1 alone does not answer an ordered fetch from 0.
  EXPECT_EQ(pool_->Report({Ok(job, 1, Value(10))}), 1);
  EXPECT_FALSE(recorder_.Has("r"));
  EXPECT_EQ(pool_->Report({Ok(job, 0, Value(0))}), 1);
  Value::List got = Results("r");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], Value(Value::List{Value(static_cast<int64_t>(job)), Value(0), Value(true),
                                      Value(0)}));
  EXPECT_EQ(got[1].as_list()[3], Value(10));
  pool_->Report({Failed(job, 2, "KeyError")});
  pool_->Results(Request("r2", kCaller), job, 2, 0, false);
  got = Results("r2");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], Value(Value::List{Value(static_cast<int64_t>(job)), Value(2), Value(false),
                                      Value("KeyError"), Value("it failed")}));
  // Every result was fetched: the job is forgotten.
  pool_->Results(Request("r3", kCaller), job, 3, 0, false);
  EXPECT_TRUE(IsKind(recorder_.Of("r3").status, ErrorKind::kValueError));
  EXPECT_EQ(pool_->GetStats().done, 3);
}

TEST_F(PoolObjectTest, UnorderedResultsComeAsTheyAreReported) {
  const uint64_t job = Submit({0, 1, 2}, 0, 3);
  pool_->Pull(Request("a", kWorkerA), 0);
  pool_->Results(Request("r", kCaller), job, 0, 1, true);
  pool_->Report({Ok(job, 2, Value("two"))});
  Value::List got = Results("r");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].as_list()[1], Value(2));
}

TEST_F(PoolObjectTest, AFetchTimesOut) {
  const uint64_t job = Submit({0});
  pool_->Results(Request("r", kCaller, timers_.Now() + absl::Seconds(1)), job, 0, 0, false);
  timers_.Advance(absl::Seconds(2));
  EXPECT_TRUE(IsKind(recorder_.Of("r").status, ErrorKind::kTimeoutError));
}

TEST_F(PoolObjectTest, ALostWorkersTasksRunElsewhere) {
  const uint64_t job = Submit({0, 1, 2}, 0, 2);
  pool_->Pull(Request("a", kWorkerA), 0);
  ASSERT_EQ(Tasks("a").size(), 2u);
  pool_->EndSession(kWorkerA);
  EXPECT_EQ(pool_->GetStats().leased, 0);
  EXPECT_EQ(pool_->GetStats().pending, 3);
  // Back at the front, in order, with their attempt counted.
  pool_->Pull(Request("b", kWorkerB), 0);
  Value::List got = Tasks("b");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].as_list()[1], Value(0));
  EXPECT_EQ(got[0].as_list()[4], Value(1));
  EXPECT_EQ(got[1].as_list()[1], Value(1));
  // A report from the lost worker, too late, is ignored.
  EXPECT_EQ(pool_->Report({Ok(job, 2, Value(5))}), 0);
  EXPECT_EQ(pool_->Report({Ok(job, 0, Value(0)), Ok(job, 1, Value(1))}), 2);
}

TEST_F(PoolObjectTest, ATaskLostMoreThanMaxRetriesTimesFailsAloneWithWorkerLost) {
  const uint64_t job = Submit({0, 1}, 0, 1);
  // max_retries is 2: three losses fail the task.
  for (int loss = 0; loss < 3; ++loss) {
    const std::string name = "pull" + std::to_string(loss);
    pool_->Pull(Request(name, 10 + loss), 1);
    ASSERT_EQ(Tasks(name).size(), 1u);
    EXPECT_EQ(Tasks(name)[0].as_list()[1], Value(0));
    pool_->EndSession(10 + loss);
  }
  pool_->Results(Request("r", kCaller), job, 0, 0, false);
  Value::List got = Results("r");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].as_list()[2], Value(false));
  EXPECT_EQ(got[0].as_list()[3], Value("WorkerLost"));
  // The other task still runs.
  pool_->Pull(Request("last", kWorkerB), 0);
  ASSERT_EQ(Tasks("last").size(), 1u);
  EXPECT_EQ(Tasks("last")[0].as_list()[1], Value(1));
}

TEST_F(PoolObjectTest, CloseRefusesSubmitsAndEndsPullsOnceDrained) {
  const uint64_t job = Submit({0});
  pool_->Pull(Request("a", kWorkerA), 0);
  pool_->Pull(Request("idle", kWorkerB), 0);
  pool_->Close();
  std::vector<PoolObject::Task> more;
  more.push_back({1, "f", {}, ""});
  EXPECT_TRUE(IsError(pool_->Submit(job, 0, std::move(more)).status(), ErrorKind::kValueError,
                      "Pool not running"));
  // Task 0 is still leased: it might come back, so the idle pull waits.
  EXPECT_FALSE(recorder_.Has("idle"));
  pool_->Report({Ok(job, 0, Value(1))});
  EXPECT_TRUE(recorder_.Of("idle").value.is_none());
  EXPECT_EQ(pool_->Pull(Request("later", kWorkerA), 0), 0u);
  EXPECT_TRUE(recorder_.Of("later").value.is_none());
}

TEST_F(PoolObjectTest, AClosedPoolsLostTaskStillRuns) {
  Submit({0});
  pool_->Pull(Request("a", kWorkerA), 0);
  pool_->Pull(Request("idle", kWorkerB), 0);
  pool_->Close();
  pool_->EndSession(kWorkerA);
  ASSERT_EQ(Tasks("idle").size(), 1u);
}

TEST_F(PoolObjectTest, TerminateFailsWhatIsNotDoneAndEndsPulls) {
  const uint64_t job = Submit({0, 1});
  pool_->Pull(Request("a", kWorkerA), 0);
  pool_->Pull(Request("idle", kWorkerB), 0);  // takes task 1
  pool_->Pull(Request("idle2", kWorkerB), 0);
  pool_->Results(Request("r", kCaller), job, 0, 0, false);
  pool_->Terminate();
  EXPECT_TRUE(recorder_.Of("idle2").value.is_none());
  Value::List got = Results("r");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].as_list()[3], Value("RuntimeError"));
  EXPECT_EQ(pool_->GetStats().leased, 0);
}

TEST_F(PoolObjectTest, BadSubmitsAddNothing) {
  const uint64_t job = Submit({0});
  std::vector<PoolObject::Task> dup;
  dup.push_back({0, "f", {}, ""});
  EXPECT_TRUE(IsKind(pool_->Submit(job, 0, std::move(dup)).status(), ErrorKind::kValueError));
  std::vector<PoolObject::Task> twice;
  twice.push_back({5, "f", {}, ""});
  twice.push_back({5, "f", {}, ""});
  EXPECT_TRUE(IsKind(pool_->Submit(job, 0, std::move(twice)).status(), ErrorKind::kValueError));
  EXPECT_TRUE(IsKind(pool_->Submit(999, 0, {}).status(), ErrorKind::kValueError));
  EXPECT_EQ(pool_->Size(), 1);
  EXPECT_TRUE(IsKind(PoolObject::Create(-1, nullptr, &timers_).status(), ErrorKind::kValueError));
}

TEST_F(PoolObjectTest, EndSessionCancelsTheSessionsWaits) {
  const uint64_t job = Submit({0});
  pool_->Pull(Request("a", kWorkerA), 0);
  pool_->Pull(Request("idle", kWorkerB), 0);
  pool_->Results(Request("r", kCaller), job, 0, 0, false);
  pool_->EndSession(kWorkerB);
  pool_->EndSession(kCaller);
  EXPECT_FALSE(recorder_.Of("idle").status.ok());
  EXPECT_FALSE(recorder_.Of("r").status.ok());
  const WaitId id = pool_->Pull(Request("c", kWorkerB), 0);
  pool_->Cancel(id);
  EXPECT_FALSE(recorder_.Of("c").status.ok());
}

TEST_F(PoolObjectTest, DeletingThePoolCompletesItsWaiters) {
  pool_->Pull(Request("idle", kWorkerB), 0);
  pool_.reset();
  EXPECT_FALSE(recorder_.Of("idle").status.ok());
}

// The pool's tasks and results are charged to the server's memory budget,
// from submit to result and from result to fetch.
class PoolBudgetTest : public PoolObjectTest {
 protected:
  // The pool goes before the budget it is charged to.
  ~PoolBudgetTest() override { pool_.reset(); }
  void UseBudget(int64_t limit) {
    pool_.reset();
    budget_ = std::make_unique<MemoryBudget>(limit);
    pool_ = std::make_unique<PoolObject>(0, budget_.get(), &timers_);
  }
  // Tasks "f"(payload) at indexes 0..n-1.
  absl::StatusOr<uint64_t> SubmitPayloads(int64_t n, const std::string& payload) {
    std::vector<PoolObject::Task> tasks;
    for (int64_t i = 0; i < n; ++i) tasks.push_back({i, "f", Value::List{Value(payload)}, ""});
    return pool_->Submit(0, 0, std::move(tasks));
  }
  std::unique_ptr<MemoryBudget> budget_;
};

TEST_F(PoolBudgetTest, ASubmitPastTheLimitIsLimitErrorAndAddsNothing) {
  UseBudget(100000);
  absl::StatusOr<uint64_t> big = SubmitPayloads(10, std::string(20000, 'x'));
  EXPECT_TRUE(IsKind(big.status(), ErrorKind::kLimitError)) << big.status();
  EXPECT_EQ(budget_->used(), 0);
  EXPECT_EQ(pool_->GetStats().pending, 0);
  absl::StatusOr<uint64_t> fits = SubmitPayloads(3, std::string(20000, 'x'));
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_GT(budget_->used(), 60000);
  EXPECT_EQ(pool_->GetStats().pending, 3);
}

TEST_F(PoolBudgetTest, ChargesAreGivenBackWhenTheResultsAreFetched) {
  UseBudget(1 << 20);
  ASSERT_TRUE(SubmitPayloads(3, std::string(1000, 'x')).ok());
  const int64_t submitted = budget_->used();
  EXPECT_GT(submitted, 3000);
  pool_->Pull(Request("a", kWorkerA), 0);
  Value::List got = Tasks("a");
  ASSERT_EQ(got.size(), 1u);
  const uint64_t job = static_cast<uint64_t>(got[0].as_list()[0].as_int());
  // Pulled tasks keep their charge until their result comes.
  EXPECT_EQ(budget_->used(), submitted);
  EXPECT_EQ(pool_->Report({Ok(job, 0, Value(std::string(5000, 'r')))}), 1);
  EXPECT_GT(budget_->used(), submitted + 3000);
  pool_->Pull(Request("b", kWorkerA), 0);
  pool_->Pull(Request("c", kWorkerA), 0);
  EXPECT_EQ(pool_->Report({Ok(job, 1, Value(1)), Failed(job, 2, "ValueError")}), 2);
  pool_->Results(Request("r", kCaller), job, 0, 0, false);
  EXPECT_EQ(Results("r").size(), 3u);
  EXPECT_EQ(budget_->used(), 0);
}

TEST_F(PoolBudgetTest, AResultPastTheLimitFailsItsTaskAloneWithLimitError) {
  UseBudget(50000);
  ASSERT_TRUE(SubmitPayloads(2, "x").ok());
  pool_->Pull(Request("a", kWorkerA), 0);
  pool_->Pull(Request("b", kWorkerA), 0);
  const uint64_t job = static_cast<uint64_t>(Tasks("a")[0].as_list()[0].as_int());
  EXPECT_EQ(pool_->Report({Ok(job, 0, Value(std::string(100000, 'r'))), Ok(job, 1, Value(7))}), 2);
  EXPECT_LT(budget_->used(), 50000);
  pool_->Results(Request("r", kCaller), job, 0, 0, false);
  Value::List results = Results("r");
  ASSERT_EQ(results.size(), 2u);
  const Value::List& first = results[0].as_list();
  EXPECT_EQ(first[2], Value(false));
  EXPECT_EQ(first[3], Value("LimitError"));
  EXPECT_NE(first[4].as_str().find("does not fit"), std::string::npos) << first[4].as_str();
  EXPECT_EQ(results[1].as_list()[3], Value(7));
  EXPECT_EQ(budget_->used(), 0);
}

TEST_F(PoolBudgetTest, LostAndTerminatedTasksAndADeletedPoolGiveTheirChargeBack) {
  UseBudget(1 << 20);
  ASSERT_TRUE(SubmitPayloads(4, std::string(1000, 'x')).ok());
  pool_->Pull(Request("a", kWorkerA), 0);
  const uint64_t job = static_cast<uint64_t>(Tasks("a")[0].as_list()[0].as_int());
  pool_->EndSession(kWorkerA);  // max_retries 0: the task fails with WorkerLost
  pool_->Terminate();           // the other three fail
  const int64_t four_errors = budget_->used();
  EXPECT_GT(four_errors, 0);
  EXPECT_LT(four_errors, 4000);
  pool_->Results(Request("r", kCaller), job, 0, 0, false);
  Value::List results = Results("r");
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].as_list()[3], Value("WorkerLost"));
  EXPECT_EQ(budget_->used(), 0);
  UseBudget(1 << 20);
  ASSERT_TRUE(SubmitPayloads(4, std::string(1000, 'x')).ok());
  EXPECT_GT(budget_->used(), 0);
  pool_.reset();
  EXPECT_EQ(budget_->used(), 0);
}

}  // namespace
}  // namespace shoal::server
