// PoolObject is the server's side of a Pool of workers (pool.proto): tasks
// submitted in jobs wait as pending, workers pull them (leased to the
// puller's session), report each task's result or error, and callers fetch
// the results by job and index, in order or as they complete.
//
// The unit of scheduling is the chunk, as in Python's Pool.map: a Submit
// cuts its tasks, in order, into chunks of the job's chunksize (a chunk
// never spans two Submits), and each chunk is one entry: pending as a
// whole, leased as a whole to one worker (under a lease id, the "chunk" a
// pull gives and a report names), and done once each of its tasks was
// reported. A pull takes one chunk (cut at max when max is smaller). The
// counts (Stats, Repr, Size, Held) are of tasks, not chunks.
//
// Never lose a task. A leased chunk belongs to its worker's session: when
// that session ends (EndSession) the chunk's tasks not yet reported go back
// to the front of the pending chunks, as one chunk, to run elsewhere,
// unless the chunk was lost max_retries times already, in which case each
// of those tasks fails with WorkerLost. Each task gets exactly one result,
// the first reported while its chunk is leased (to whoever): a report for a
// task no longer leased is ignored. A failed task fails alone; the others
// of its chunk keep their results. Results wait until fetched; a job is
// forgotten once every task submitted to it was fetched.
//
// No thread waits: a Pull with nothing pending parks a puller, a Results
// with nothing to give parks a fetcher (waiter_list.h). A submit, a chunk
// given back or a close wakes pullers; a reported result wakes its job's
// fetchers. Once the pool is closed and no task is pending or leased, every
// pull answers "closed" (Terminate drops the tasks not done, which fail).
//
// Memory. Every task, from its submit to its result, and every result, from
// its report to its fetch, is charged to the server's MemoryBudget
// (--max-bytes): a Submit that does not fit is LimitError and adds nothing;
// a reported result that does not fit fails its task alone with LimitError
// (the task's own charge always covers that error), so no task is lost to
// the limit and no worker waits on it.
//
// Outcomes carry Values. A pull's is None for "closed", an empty list for
// nothing, [false, job, chunk, attempt, tasks] with tasks a list of
// [index, function, args], or, for a chunk submitted packed,
// [true, job, chunk, attempt, function, indexes, records] with records the
// tasks' packed records one after the other (bytes) and indexes their list,
// or the first index alone when they are consecutive. A fetch's is
// [job, records, runs, others]: the values that came packed, their records
// one after the other and their indexes as runs of consecutive ones (first,
// count, first, count, ...), and the other results, each
// [job, index, true, value] or [job, index, false, kind, message]; each of
// the three in the order taken.
//
// Thread-safety: every public method is safe to call from any thread; the
// state and both waiter lists are under mu_, and completions run after it is
// released.
#ifndef SHOAL_SERVER_OBJECTS_POOL_OBJECT_H_
#define SHOAL_SERVER_OBJECTS_POOL_OBJECT_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/objects/budget_account.h"
#include "server/objects/memory_budget.h"
#include "server/objects/object.h"
#include "shared/mutex.h"
#include "server/objects/waiter_list.h"
#include "server/objects/waiting.h"
#include "shoal/value.h"

namespace shoal::server {

inline constexpr int64_t kDefaultPoolMaxRetries = 3;

class PoolObject : public Object {
 public:
  // A task's arguments are args, or, when packed is not empty, the one
  // record of a packed ListValue (field 1, its length, a list Value of the
  // arguments) as it came, kept and handed on undecoded. The tasks of one
  // Submit are all packed or none.
  struct Task {
    int64_t index = 0;
    std::string function;
    Value::List args;
    std::string packed;
  };
  // A task's result: ok with value (or, when packed is not empty, the one
  // record of a packed ListValue holding it, as it came), or the error's
  // kind and message. chunk is the lease the task was pulled under (0:
  // found by job and index).
  struct Result {
    uint64_t job = 0;
    int64_t index = 0;
    uint64_t chunk = 0;
    bool ok = true;
    Value value;
    std::string packed;
    std::string error_kind;
    std::string error_message;
  };

  // Tasks submitted packed, all of function, with consecutive indexes from
  // first_index: the records of a packed ListValue (each a list Value, the
  // task's arguments) one after the other in records, ends[i] where the i-th
  // ends. records is only read during the Submit.
  struct PackedSubmit {
    absl::string_view function;
    int64_t first_index = 0;
    absl::string_view records;
    std::vector<uint32_t> ends;
  };
  // Results reported packed, all of one job and lease (chunk 0: found by job
  // and index, as Result's): the records of a packed ListValue one after the
  // other in values, ends[i] the offset where the i-th ends, for the task of
  // indexes[i], or of first_index + i when indexes is empty. values is only
  // read during the Report.
  struct PackedReport {
    uint64_t job = 0;
    uint64_t chunk = 0;
    int64_t first_index = 0;
    std::vector<int64_t> indexes;
    absl::string_view values;
    std::vector<uint32_t> ends;
  };

  // max_retries: how many losses of its worker a chunk survives (negative
  // is ValueError).
  // budget (null: unlimited) and timers must outlive the pool.
  static absl::StatusOr<std::unique_ptr<Object>> Create(int64_t max_retries,
                                                        MemoryBudget* budget, Timers* timers);
  PoolObject(int64_t max_retries, MemoryBudget* budget, Timers* timers);
  ~PoolObject() override;

  // Adds tasks, then the packed ones, to job (0: a new job), cut in order
  // into chunks of the job's chunksize, and returns the job's id;
  // chunksize > 0 sets the job's chunksize (1 for a new job otherwise).
  // ValueError when closed ("Pool not running"), for a job this pool never
  // gave, or an index already live in the job (nothing is added then).
  absl::StatusOr<uint64_t> Submit(uint64_t job, int64_t chunksize, std::vector<Task> tasks,
                                  const PackedSubmit* packed = nullptr);
  // Records results of leased tasks, apart and packed; the others are
  // ignored. A chunk is done once each of its tasks was reported, in one
  // report or several. Returns how many were taken.
  int64_t Report(std::vector<Result> results, const PackedReport* packed = nullptr);
  // Takes the oldest pending chunk (its first max tasks when max > 0 is
  // smaller, the rest staying first in line), leased to the caller's
  // session; parks while none is pending and the pool is not drained.
  // Returns 0 when it completed at once.
  WaitId Pull(WaitRequest request, int64_t max);
  // Results of job: in order from start, or unordered, up to max (0: all
  // ready). Parks while none is ready; ValueError for a job with nothing
  // left to fetch. Returns 0 when it completed at once.
  WaitId Results(WaitRequest request, uint64_t job, int64_t start, int64_t max, bool unordered);
  void Close();
  void Terminate();
  // Completes the parked puller or fetcher id with CancelledError.
  void Cancel(WaitId id);

  // Tasks pending, leased and done; the chunks pending and leased.
  struct Stats {
    int64_t pending = 0;
    int64_t leased = 0;
    int64_t done = 0;
    int64_t pending_chunks = 0;
    int64_t leased_chunks = 0;
    bool closed = false;
    int64_t max_retries = 0;
    int64_t workers = 0;
  };
  Stats GetStats() const;
  // The bytes of packed records the pool keeps for fetches, taken or not
  // (what a block's records string holds).
  int64_t KeptRecordBytes() const;

  // Object:
  // <Pool open, 3 pending, 2 leased, 10 done; session 5: 2 leased, 7 done>
  std::string Repr() const override;
  int64_t Size() const override;  // pending tasks
  void ForEachRef(const std::function<void(const ObjectRef&)>& fn) const override;
  // Gives the session's leased chunks back (or fails their tasks past
  // max_retries)
  // and completes its parked pulls and fetches with CancelledError.
  void EndSession(SessionId session) override;
  // held: the tasks leased to each worker session; waiting: parked calls.
  Holdings Held() const override;

 private:
  // Indexes as disjoint closed ranges [first, last], by first: the indexes
  // of a job submitted and not yet fetched, a handful of ranges for a map.
  class IndexRanges {
   public:
    bool Contains(int64_t i) const;
    void Insert(int64_t i);  // i is not contained
    void Erase(int64_t i);   // i is contained
    // Whether any of [first, last] is contained; *at the first that is.
    bool Overlaps(int64_t first, int64_t last, int64_t* at) const;
    // Inserts [first, last], none contained.
    void InsertRange(int64_t first, int64_t last);
    // Erases [first, last], each contained.
    void EraseRange(int64_t first, int64_t last);
    bool empty() const { return ranges_.empty(); }

   private:
    absl::btree_map<int64_t, int64_t> ranges_;
  };
  // Tasks of one job, in submit order, scheduled as one: each apart
  // (tasks), or packed, all of function: their records one after the other,
  // ends[i] where record i ends, of the task of indexes[i] or, when indexes
  // is empty, of first + i.
  struct Chunk {
    uint64_t job = 0;
    int32_t attempts = 0;  // losses so far
    std::vector<Task> tasks;
    std::string function;
    std::string records;
    std::vector<uint32_t> ends;
    std::vector<int64_t> indexes;
    int64_t first = 0;

    bool packed() const { return !ends.empty(); }
    size_t size() const { return packed() ? ends.size() : tasks.size(); }
    int64_t index(size_t i) const {
      if (!packed()) return tasks[i].index;
      return indexes.empty() ? first + static_cast<int64_t>(i) : indexes[i];
    }
    absl::string_view record(size_t i) const {
      const uint32_t begin = i == 0 ? 0 : ends[i - 1];
      return absl::string_view(records).substr(begin, ends[i] - begin);
    }
    // What task i is charged.
    int64_t Charge(size_t i) const;
    // Appends a packed task.
    void AddPacked(int64_t index, absl::string_view record);
    // Appends task i of from (moved, when apart).
    void AddFrom(Chunk& from, size_t i);
    // The first k tasks, taken off this chunk.
    Chunk TakeFront(size_t k);
  };
  struct Leased {
    SessionId session = 0;
    Chunk chunk;
    // Whether each task of chunk was reported; remaining are not.
    std::vector<bool> reported;
    int64_t remaining = 0;
    // Where the next report is looked for first (reports come in order).
    size_t hint = 0;
    bool sorted = true;  // chunk's indexes ascend
  };
  // A result waiting to be fetched apart (not packed: an error, or a value
  // that came per task).
  struct Ready {
    std::unique_ptr<Result> result;
    int64_t bytes = 0;  // charged to account_
  };
  // Packed results of consecutive indexes, front first: the records one
  // after the other, ends[i] where the i-th ends. Taken from the front, so
  // the first not taken is record `taken`, of index front.
  struct Block {
    std::string records;
    std::vector<uint32_t> ends;
    size_t taken = 0;
    size_t size() const { return ends.size() - taken; }
  };
  struct Job {
    int64_t chunksize = 1;
    // Indexes submitted and not yet fetched.
    IndexRanges live;
    // Results reported and not yet fetched: apart by index, and packed by
    // the index of each block's front. An index is in one or the other.
    absl::btree_map<int64_t, Ready> ready;
    absl::btree_map<int64_t, Block> blocks;
  };
  // Packed records accepted by one Report, gathered into blocks.
  struct Run {
    uint64_t job = 0;
    int64_t first = 0;
    Block block;
  };
  struct Worker {
    int64_t leased = 0;
    int64_t done = 0;
  };
  struct PullPayload {
    int64_t max = 0;
  };
  // Results taken for a fetch, as its outcome lists them.
  struct Taken {
    std::string records;
    Value::List indexes;  // runs: first, count, ...
    Value::List others;
    int64_t bytes = 0;  // charged for them, to release
  };
  struct FetchPayload {
    uint64_t job = 0;
    int64_t start = 0;
    int64_t max = 0;
    bool unordered = false;
  };

  // Leases the chunk a pull of max gets; an empty list when none is pending.
  Value TakeChunk(SessionId session, int64_t max) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The lease holding task (job, index) and its place there, for a result
  // that names no chunk; false when none does.
  bool FindLeased(uint64_t job, int64_t index, uint64_t* chunk) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The place of index in lease l, or -1.
  static int64_t PlaceOf(Leased& l, int64_t index);
  // What a fetch gets now: false when nothing is ready for it.
  bool TakeResults(Job& job, const FetchPayload& f, Value* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes k records from the block at it (keyed by its front); returns the
  // next block.
  static absl::btree_map<int64_t, Block>::iterator TakeRecords(
      Job& job, absl::btree_map<int64_t, Block>::iterator it, size_t k, Taken& taken);
  // Splits the block holding index, not at its front, so that a block
  // starts at index; the end when no block holds it.
  static absl::btree_map<int64_t, Block>::iterator SplitAt(Job& job, int64_t index);
  static absl::btree_map<int64_t, Ready>::iterator TakeApart(
      Job& job, absl::btree_map<int64_t, Ready>::iterator it, Taken& taken);
  // Marks task (job, index) of the lease named chunk (0: found) reported and
  // sets task_bytes to its charge; false when it is not leased or was
  // reported already. lease caches the last lease found.
  bool Accept(uint64_t job, int64_t index, uint64_t chunk,
              absl::flat_hash_map<uint64_t, Leased>::iterator& lease, int64_t* task_bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds an accepted packed record to run, storing the run first when the
  // record does not continue it; a record that does not fit the budget fails
  // its task with LimitError instead.
  void AddRecord(uint64_t job, int64_t index, absl::string_view record, int64_t task_bytes,
                 Run& run, int64_t& freed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores run's records as a block of its job (joined to the block they
  // continue, if any) and empties it.
  void StoreRun(Run& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores a result for a task no longer pending nor leased, whose charge
  // was task_bytes. A result its worker reported is charged by its size and,
  // when that does not fit, fails its task with LimitError instead; the
  // server's own errors cost a fixed record, within any task's charge. What
  // the task's charge exceeds the result's is added to freed, for the caller
  // to Release once for all its results.
  void Finish(Result result, int64_t task_bytes, bool reported, int64_t& freed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Drained() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ && pending_.empty() && leased_.empty();
  }
  // Stores the WorkerLost result of each task of a chunk lost too often.
  void FailLost(Chunk chunk, std::vector<uint64_t>& jobs, int64_t& freed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands pending tasks to parked pullers, or "closed" once drained.
  void WakePullers(Settlement& settle) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Answers the parked fetchers of job that now have results.
  void WakeFetchers(uint64_t job, Settlement& settle) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ForgetIfDone(uint64_t job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Expire(WaitId id);

  const int64_t max_retries_;
  Timers* const timers_;
  mutable Mutex mu_;
  BudgetAccount account_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_job_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_chunk_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t done_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Chunk> pending_ ABSL_GUARDED_BY(mu_);
  int64_t pending_tasks_ ABSL_GUARDED_BY(mu_) = 0;
  // By lease id (the chunk a pull gives).
  absl::flat_hash_map<uint64_t, Leased> leased_ ABSL_GUARDED_BY(mu_);
  int64_t leased_tasks_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, Job> jobs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<SessionId, Worker> workers_ ABSL_GUARDED_BY(mu_);
  WaiterList<PullPayload> pullers_ ABSL_GUARDED_BY(mu_);
  WaiterList<FetchPayload> fetchers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_POOL_OBJECT_H_
