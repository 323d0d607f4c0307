#include "server/objects/pool_object.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

constexpr WaitIdTag kPullerTag = 1;
constexpr WaitIdTag kFetcherTag = 2;

Value TaskValue(const PoolObject::Task& task) {
  return Value(Value::List{Value(task.index), Value(task.function), Value(task.args)});
}

constexpr int64_t kMaxIndex = std::numeric_limits<int64_t>::max();

// Whether next is first + count, the index after a run of count from first,
// without overflowing at the top of the range.
bool Follows(int64_t first, size_t count, int64_t next) {
  return next > first &&
         static_cast<uint64_t>(next) - static_cast<uint64_t>(first) == static_cast<uint64_t>(count);
}

// What a task or a result costs the budget beyond its own bytes: its record
// in the pool's chunks or results, with the allocations around it. The
// server's own error results (a lost worker, a terminated pool, a result
// that did not fit) cost this much alone, so that any task's charge covers
// the error that may replace its result.
constexpr int64_t kPoolRecordBytes = 256;

int64_t TaskBytes(const PoolObject::Task& task) {
  int64_t bytes = kPoolRecordBytes + static_cast<int64_t>(task.function.size());
  if (!task.packed.empty()) return bytes + static_cast<int64_t>(task.packed.size());
  for (const Value& arg : task.args) bytes += ApproxBytes(arg);
  return bytes;
}

// A result apart, as its worker reported it.
int64_t ReportedBytes(const PoolObject::Result& r) {
  if (!r.ok) {
    return kPoolRecordBytes + static_cast<int64_t>(r.error_kind.size() + r.error_message.size());
  }
  return kPoolRecordBytes + ApproxBytes(r.value);
}

// The LimitError that takes the place of a result of bytes that does not fit.
PoolObject::Result TooBig(uint64_t job, int64_t index, int64_t bytes) {
  PoolObject::Result r;
  r.job = job;
  r.index = index;
  r.ok = false;
  r.error_kind = std::string(ErrorKindName(ErrorKind::kLimitError));
  r.error_message = absl::StrCat("the result of task ", index, " (", bytes,
                                 " bytes) does not fit the server's memory limit");
  return r;
}

// Records [from, to) of records, ends[i] where record i ends, appended to
// out_records with where each ends in out_records.
void CopyRecords(absl::string_view records, const std::vector<uint32_t>& ends, size_t from,
                 size_t to, std::string* out_records, std::vector<uint32_t>* out_ends) {
  const uint32_t begin = from == 0 ? 0 : ends[from - 1];
  const uint32_t base = static_cast<uint32_t>(out_records->size());
  out_records->append(records.data() + begin, ends[to - 1] - begin);
  out_ends->reserve(out_ends->size() + (to - from));
  for (size_t i = from; i < to; ++i) out_ends->push_back(base + ends[i] - begin);
}

// Drops the first k records of records and ends.
void DropRecords(std::string& records, std::vector<uint32_t>& ends, size_t k) {
  const uint32_t cut = ends[k - 1];
  records.erase(0, cut);
  ends.erase(ends.begin(), ends.begin() + static_cast<ptrdiff_t>(k));
  for (uint32_t& end : ends) end -= cut;
}

// A packed result's record in a block, with its index and offset.
constexpr int64_t kPackedRecordBytes = 16;

int64_t RecordBytes(size_t record_size) {
  return kPackedRecordBytes + static_cast<int64_t>(record_size);
}

Value ResultValue(const PoolObject::Result& r) {
  if (r.ok) {
    return Value(Value::List{Value(static_cast<int64_t>(r.job)), Value(r.index), Value(true),
                             r.value});
  }
  return Value(Value::List{Value(static_cast<int64_t>(r.job)), Value(r.index), Value(false),
                           Value(r.error_kind), Value(r.error_message)});
}

}  // namespace

bool PoolObject::IndexRanges::Contains(int64_t i) const {
  auto it = ranges_.upper_bound(i);
  if (it == ranges_.begin()) return false;
  --it;
  return it->second >= i;
}

void PoolObject::IndexRanges::Insert(int64_t i) {
  auto next = ranges_.upper_bound(i);
  const bool joins_next = next != ranges_.end() && i != kMaxIndex && next->first == i + 1;
  if (next != ranges_.begin()) {
    auto prev = std::prev(next);
    if (prev->second != kMaxIndex && prev->second + 1 == i) {
      if (joins_next) {
        prev->second = next->second;
        ranges_.erase(next);
      } else {
        prev->second = i;
      }
      return;
    }
  }
  if (joins_next) {
    const int64_t last = next->second;
    ranges_.erase(next);
    ranges_.emplace(i, last);
  } else {
    ranges_.emplace(i, i);
  }
}

bool PoolObject::IndexRanges::Overlaps(int64_t first, int64_t last, int64_t* at) const {
  auto it = ranges_.upper_bound(first);
  if (it != ranges_.begin() && std::prev(it)->second >= first) {
    *at = first;
    return true;
  }
  if (it != ranges_.end() && it->first <= last) {
    *at = it->first;
    return true;
  }
  return false;
}

void PoolObject::IndexRanges::InsertRange(int64_t first, int64_t last) {
  auto next = ranges_.upper_bound(last);
  if (next != ranges_.end() && last != kMaxIndex && next->first == last + 1) {
    last = next->second;
    next = ranges_.erase(next);
  }
  if (next != ranges_.begin()) {
    auto prev = std::prev(next);
    if (prev->second != kMaxIndex && prev->second + 1 == first) {
      prev->second = last;
      return;
    }
  }
  ranges_.emplace_hint(next, first, last);
}

void PoolObject::IndexRanges::EraseRange(int64_t first, int64_t last) {
  auto it = ranges_.upper_bound(first);
  if (it == ranges_.begin()) return;
  --it;
  const int64_t from = it->first;
  const int64_t to = it->second;
  if (to < last) {
    // Not one range: each apart.
    for (int64_t i = first; i <= last; ++i) Erase(i);
    return;
  }
  if (from == first) {
    ranges_.erase(it);
  } else {
    it->second = first - 1;
  }
  if (to != last) ranges_.emplace(last + 1, to);
}

void PoolObject::IndexRanges::Erase(int64_t i) {
  auto it = ranges_.upper_bound(i);
  if (it == ranges_.begin()) return;
  --it;
  const int64_t first = it->first;
  const int64_t last = it->second;
  if (last < i) return;
  if (first == i) {
    ranges_.erase(it);
    if (last != i) ranges_.emplace(i + 1, last);
  } else if (last == i) {
    it->second = i - 1;
  } else {
    it->second = i - 1;
    ranges_.emplace(i + 1, last);
  }
}

absl::StatusOr<std::unique_ptr<Object>> PoolObject::Create(int64_t max_retries,
                                                           MemoryBudget* budget, Timers* timers) {
  if (max_retries < 0) return error::ValueError("a Pool's max_retries must not be negative");
  return std::unique_ptr<Object>(std::make_unique<PoolObject>(max_retries, budget, timers));
}

PoolObject::PoolObject(int64_t max_retries, MemoryBudget* budget, Timers* timers)
    : Object(Kind::kPool),
      max_retries_(max_retries),
      timers_(timers),
      account_(budget),
      pullers_(timers, kPullerTag, [this](WaitId id) { Expire(id); }),
      fetchers_(timers, kFetcherTag, [this](WaitId id) { Expire(id); }) {}

PoolObject::~PoolObject() {
  const Outcome deleted = Outcome::Error(absl::CancelledError("the Pool was deleted"));
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  pullers_.CompleteAll(deleted, settle);
  fetchers_.CompleteAll(deleted, settle);
}

int64_t PoolObject::Chunk::Charge(size_t i) const {
  if (!packed()) return TaskBytes(tasks[i]);
  return kPoolRecordBytes + static_cast<int64_t>(function.size() + (ends[i] - (i == 0 ? 0 : ends[i - 1])));
}

void PoolObject::Chunk::AddPacked(int64_t index, absl::string_view record) {
  const size_t n = ends.size();
  if (n == 0) {
    first = index;
  } else if (indexes.empty() && !Follows(first, n, index)) {
    // Not consecutive any more: listed from now on.
    indexes.reserve(n + 1);
    for (size_t i = 0; i < n; ++i) indexes.push_back(first + static_cast<int64_t>(i));
  }
  if (!indexes.empty()) indexes.push_back(index);
  records.append(record.data(), record.size());
  ends.push_back(static_cast<uint32_t>(records.size()));
}

void PoolObject::Chunk::AddFrom(Chunk& from, size_t i) {
  if (!from.packed()) {
    tasks.push_back(std::move(from.tasks[i]));
    return;
  }
  if (!packed()) function = from.function;
  AddPacked(from.index(i), from.record(i));
}

PoolObject::Chunk PoolObject::Chunk::TakeFront(size_t k) {
  Chunk front;
  front.job = job;
  front.attempts = attempts;
  if (!packed()) {
    front.tasks.assign(std::make_move_iterator(tasks.begin()),
                       std::make_move_iterator(tasks.begin() + static_cast<ptrdiff_t>(k)));
    tasks.erase(tasks.begin(), tasks.begin() + static_cast<ptrdiff_t>(k));
    return front;
  }
  front.function = function;
  CopyRecords(records, ends, 0, k, &front.records, &front.ends);
  front.first = first;
  DropRecords(records, ends, k);
  if (indexes.empty()) {
    first += static_cast<int64_t>(k);
  } else {
    front.indexes.assign(indexes.begin(), indexes.begin() + static_cast<ptrdiff_t>(k));
    indexes.erase(indexes.begin(), indexes.begin() + static_cast<ptrdiff_t>(k));
  }
  return front;
}

absl::StatusOr<uint64_t> PoolObject::Submit(uint64_t job_id, int64_t chunksize,
                                            std::vector<Task> tasks, const PackedSubmit* packed) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (closed_) return error::ValueError("Pool not running");
  if (job_id >= next_job_) {
    return error::ValueError(absl::StrCat("no job ", job_id, " in this pool"));
  }
  if (chunksize < 0) return error::ValueError("chunksize must not be negative");
  const size_t n_packed = packed == nullptr ? 0 : packed->ends.size();
  if (n_packed > 0 && packed->first_index > std::numeric_limits<int64_t>::max() -
                                                static_cast<int64_t>(n_packed)) {
    return error::ValueError("packed task indexes overflow");
  }
  int64_t bytes = 0;
  for (const Task& task : tasks) bytes += TaskBytes(task);
  if (n_packed > 0) {
    bytes += static_cast<int64_t>(n_packed) *
                 (kPoolRecordBytes + static_cast<int64_t>(packed->function.size())) +
             static_cast<int64_t>(packed->records.size());
  }
  const size_t count = tasks.size() + n_packed;
  if (absl::Status fits = account_.Reserve(bytes); !fits.ok()) {
    return absl::Status(fits.code(), absl::StrCat("the Pool's ", count, " tasks (", bytes,
                                                  " bytes) do not fit: ", fits.message()));
  }
  const bool fresh = job_id == 0;
  if (fresh) job_id = next_job_++;
  Job& job = jobs_[job_id];
  if (chunksize > 0) job.chunksize = chunksize;
  // Checked as they are added, and taken back on a refusal, so that a
  // refused submit adds nothing.
  auto refuse = [&](size_t added, int64_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (size_t j = 0; j < added; ++j) job.live.Erase(tasks[j].index);
    if (fresh || job.live.empty()) jobs_.erase(job_id);
    account_.Release(bytes);
    return error::ValueError(
        absl::StrCat("task ", index, " of job ", job_id, " was submitted already"));
  };
  for (size_t i = 0; i < tasks.size(); ++i) {
    const int64_t index = tasks[i].index;
    if (job.live.Contains(index)) return refuse(i, index);
    job.live.Insert(index);
  }
  if (n_packed > 0) {
    const int64_t last = packed->first_index + static_cast<int64_t>(n_packed) - 1;
    if (int64_t at = 0; job.live.Overlaps(packed->first_index, last, &at)) {
      return refuse(tasks.size(), at);
    }
    job.live.InsertRange(packed->first_index, last);
  }
  const size_t per_chunk = static_cast<size_t>(job.chunksize);
  for (size_t at = 0, end = 0; at < tasks.size(); at = end) {
    Chunk chunk;
    chunk.job = job_id;
    // A chunk's tasks are all packed or none.
    const bool packed_task = !tasks[at].packed.empty();
    end = at;
    while (end < tasks.size() && end - at < per_chunk &&
           tasks[end].packed.empty() != packed_task) {
      ++end;
    }
    if (packed_task) chunk.function = tasks[at].function;
    chunk.tasks.reserve(packed_task ? 0 : end - at);
    for (size_t i = at; i < end; ++i) {
      if (packed_task) {
        chunk.AddPacked(tasks[i].index, tasks[i].packed);
        continue;
      }
      for (const Value& arg : tasks[i].args) {
        if (arg.contains_ref()) MarkMayHoldRefs();
      }
      chunk.tasks.push_back(std::move(tasks[i]));
    }
    pending_tasks_ += static_cast<int64_t>(chunk.size());
    pending_.push_back(std::move(chunk));
  }
  for (size_t at = 0; at < n_packed; at += per_chunk) {
    const size_t end = std::min(n_packed, at + per_chunk);
    Chunk chunk;
    chunk.job = job_id;
    chunk.function = std::string(packed->function);
    chunk.first = packed->first_index + static_cast<int64_t>(at);
    CopyRecords(packed->records, packed->ends, at, end, &chunk.records, &chunk.ends);
    pending_tasks_ += static_cast<int64_t>(chunk.size());
    pending_.push_back(std::move(chunk));
  }
  if (job.live.empty()) jobs_.erase(job_id);
  WakePullers(settle);
  return job_id;
}

void PoolObject::Finish(Result result, int64_t task_bytes, bool reported, int64_t& freed) {
  ++done_;
  auto it = jobs_.find(result.job);
  if (it == jobs_.end()) {
    freed += task_bytes;
    return;
  }
  int64_t bytes = reported ? ReportedBytes(result) : kPoolRecordBytes;
  if (bytes > task_bytes && !account_.Reserve(bytes - task_bytes).ok()) {
    result = TooBig(result.job, result.index, bytes);
    bytes = kPoolRecordBytes;
  }
  if (bytes < task_bytes) freed += task_bytes - bytes;
  if (result.ok && result.value.contains_ref()) MarkMayHoldRefs();
  const int64_t index = result.index;
  Ready ready;
  ready.bytes = bytes;
  ready.result = std::make_unique<Result>(std::move(result));
  it->second.ready.insert_or_assign(index, std::move(ready));
}

bool PoolObject::Accept(uint64_t job, int64_t index, uint64_t chunk,
                        absl::flat_hash_map<uint64_t, Leased>::iterator& lease,
                        int64_t* task_bytes) {
  if (chunk == 0 && !FindLeased(job, index, &chunk)) return false;
  // A chunk's results come together: look the lease up once for them.
  if (lease == leased_.end() || lease->first != chunk) lease = leased_.find(chunk);
  if (lease == leased_.end()) return false;
  Leased& l = lease->second;
  if (l.chunk.job != job) return false;
  const int64_t place = PlaceOf(l, index);
  if (place < 0 || l.reported[static_cast<size_t>(place)]) return false;
  l.reported[static_cast<size_t>(place)] = true;
  *task_bytes = l.chunk.Charge(static_cast<size_t>(place));
  l.hint = static_cast<size_t>(place) + 1;
  --l.remaining;
  --leased_tasks_;
  auto worker = workers_.find(l.session);
  if (worker != workers_.end()) {
    --worker->second.leased;
    ++worker->second.done;
  }
  if (l.remaining == 0) {
    leased_.erase(lease);
    lease = leased_.end();
  }
  return true;
}

void PoolObject::AddRecord(uint64_t job, int64_t index, absl::string_view record,
                           int64_t task_bytes, Run& run, int64_t& freed) {
  const int64_t bytes = RecordBytes(record.size());
  if (bytes > task_bytes && !account_.Reserve(bytes - task_bytes).ok()) {
    Finish(TooBig(job, index, bytes), task_bytes, /*reported=*/false, freed);
    return;
  }
  ++done_;
  if (bytes < task_bytes) freed += task_bytes - bytes;
  if (!run.block.ends.empty() &&
      (run.job != job || !Follows(run.first, run.block.ends.size(), index))) {
    StoreRun(run);
  }
  if (run.block.ends.empty()) {
    run.job = job;
    run.first = index;
  }
  run.block.records.append(record.data(), record.size());
  run.block.ends.push_back(static_cast<uint32_t>(run.block.records.size()));
}

void PoolObject::StoreRun(Run& run) {
  if (run.block.ends.empty()) return;
  Block block = std::move(run.block);
  run.block = Block();
  auto it = jobs_.find(run.job);
  if (it == jobs_.end()) {
    account_.Release(RecordBytes(0) * static_cast<int64_t>(block.ends.size()) +
                     static_cast<int64_t>(block.records.size()));
    return;
  }
  auto& blocks = it->second.blocks;
  // Joined to the block it continues, when the records stay addressable.
  auto next = blocks.upper_bound(run.first);
  if (next != blocks.begin()) {
    Block& before = std::prev(next)->second;
    const int64_t front = std::prev(next)->first;
    if (Follows(front, before.size(), run.first) &&
        before.records.size() + block.records.size() <= std::numeric_limits<uint32_t>::max()) {
      CopyRecords(block.records, block.ends, 0, block.ends.size(), &before.records,
                  &before.ends);
      return;
    }
  }
  blocks.emplace(run.first, std::move(block));
}

int64_t PoolObject::PlaceOf(Leased& l, int64_t index) {
  const Chunk& c = l.chunk;
  const size_t n = c.size();
  if (c.packed() && c.indexes.empty()) {
    // Consecutive from c.first.
    if (index < c.first) return -1;
    const uint64_t place = static_cast<uint64_t>(index) - static_cast<uint64_t>(c.first);
    return place < n ? static_cast<int64_t>(place) : -1;
  }
  if (l.hint < n && c.index(l.hint) == index) return static_cast<int64_t>(l.hint);
  if (l.sorted) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (c.index(mid) < index) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo < n && c.index(lo) == index ? static_cast<int64_t>(lo) : -1;
  }
  for (size_t i = 0; i < n; ++i) {
    if (c.index(i) == index) return static_cast<int64_t>(i);
  }
  return -1;
}

bool PoolObject::FindLeased(uint64_t job, int64_t index, uint64_t* chunk) const {
  for (const auto& [id, l] : leased_) {
    if (l.chunk.job != job) continue;
    for (size_t i = 0; i < l.chunk.size(); ++i) {
      if (l.chunk.index(i) == index && !l.reported[i]) {
        *chunk = id;
        return true;
      }
    }
  }
  return false;
}

int64_t PoolObject::Report(std::vector<Result> results, const PackedReport* packed) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  int64_t taken = 0;
  int64_t freed = 0;
  std::vector<uint64_t> jobs;
  auto lease = leased_.end();
  Run run;
  auto add_job = [&jobs](uint64_t job) {
    if (jobs.empty() || jobs.back() != job) jobs.push_back(job);
  };
  for (Result& result : results) {
    int64_t task_bytes = 0;
    if (!Accept(result.job, result.index, result.chunk, lease, &task_bytes)) continue;
    add_job(result.job);
    ++taken;
    if (result.ok && !result.packed.empty()) {
      AddRecord(result.job, result.index, result.packed, task_bytes, run, freed);
      continue;
    }
    Finish(std::move(result), task_bytes, /*reported=*/true, freed);
  }
  if (packed != nullptr) {
    size_t begin = 0;
    const bool listed = !packed->indexes.empty();
    for (size_t i = 0; i < packed->ends.size() && (!listed || i < packed->indexes.size()); ++i) {
      const size_t end = packed->ends[i];
      const absl::string_view record = packed->values.substr(begin, end - begin);
      begin = end;
      const int64_t index =
          listed ? packed->indexes[i] : packed->first_index + static_cast<int64_t>(i);
      int64_t task_bytes = 0;
      if (!Accept(packed->job, index, packed->chunk, lease, &task_bytes)) continue;
      add_job(packed->job);
      ++taken;
      AddRecord(packed->job, index, record, task_bytes, run, freed);
    }
  }
  StoreRun(run);
  account_.Release(freed);
  std::sort(jobs.begin(), jobs.end());
  jobs.erase(std::unique(jobs.begin(), jobs.end()), jobs.end());
  for (uint64_t job : jobs) WakeFetchers(job, settle);
  // The last task done lets the pullers of a closed pool go.
  if (Drained()) WakePullers(settle);
  return taken;
}

Value PoolObject::TakeChunk(SessionId session, int64_t max) {
  if (pending_.empty()) return Value(Value::List());
  Chunk& front = pending_.front();
  Leased l;
  l.session = session;
  if (max > 0 && static_cast<size_t>(max) < front.size()) {
    // The first max tasks go; the rest keep their place.
    l.chunk = front.TakeFront(static_cast<size_t>(max));
  } else {
    l.chunk = std::move(front);
    pending_.pop_front();
  }
  const uint64_t id = next_chunk_++;
  const Chunk& c = l.chunk;
  const size_t n = c.size();
  pending_tasks_ -= static_cast<int64_t>(n);
  leased_tasks_ += static_cast<int64_t>(n);
  workers_[session].leased += static_cast<int64_t>(n);
  l.reported.assign(n, false);
  l.remaining = static_cast<int64_t>(n);
  if (n == 0) return Value(Value::List());
  if (!c.packed() || !c.indexes.empty()) {
    for (size_t i = 1; i < n; ++i) {
      if (c.index(i - 1) >= c.index(i)) l.sorted = false;
    }
  }
  Value::List out{Value(c.packed()), Value(static_cast<int64_t>(c.job)),
                  Value(static_cast<int64_t>(id)), Value(static_cast<int64_t>(c.attempts))};
  if (c.packed()) {
    out.emplace_back(c.function);
    if (c.indexes.empty()) {
      out.emplace_back(c.first);
    } else {
      Value::List indexes;
      indexes.reserve(n);
      for (int64_t index : c.indexes) indexes.emplace_back(index);
      out.emplace_back(std::move(indexes));
    }
    out.push_back(Value::bytes(c.records));
  } else {
    Value::List values;
    values.reserve(n);
    for (const Task& task : c.tasks) values.push_back(TaskValue(task));
    out.emplace_back(std::move(values));
  }
  leased_.emplace(id, std::move(l));
  return Value(std::move(out));
}

void PoolObject::WakePullers(Settlement& settle) {
  while (!pullers_.empty()) {
    auto* puller = pullers_.Oldest();
    if (!pending_.empty()) {
      Value tasks = TakeChunk(puller->session, puller->payload.max);
      pullers_.CompleteOldest(Outcome::Ok(std::move(tasks)), settle);
    } else if (Drained()) {
      pullers_.CompleteAll(Outcome::Ok(Value()), settle);
    } else {
      return;
    }
  }
}

WaitId PoolObject::Pull(WaitRequest request, int64_t max) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (max < 0) {
    settle.CompleteNow(std::move(request.done),
                       Outcome::Error(error::ValueError("max must not be negative")));
    return 0;
  }
  if (!pending_.empty()) {
    settle.CompleteNow(std::move(request.done),
                       Outcome::Ok(TakeChunk(request.caller.session, max)));
    return 0;
  }
  if (Drained()) {
    settle.CompleteNow(std::move(request.done), Outcome::Ok(Value()));
    return 0;
  }
  if (DeadlinePassed(request.deadline, *timers_)) {
    settle.CompleteNow(std::move(request.done), Outcome::Ok(Value(Value::List())));
    return 0;
  }
  return pullers_.Park(request.caller, request.deadline, std::move(request.done), settle,
                       PullPayload{max});
}

absl::btree_map<int64_t, PoolObject::Ready>::iterator PoolObject::TakeApart(
    Job& job, absl::btree_map<int64_t, Ready>::iterator it, Taken& taken) {
  taken.bytes += it->second.bytes;
  taken.others.push_back(ResultValue(*it->second.result));
  job.live.Erase(it->first);
  return job.ready.erase(it);
}

absl::btree_map<int64_t, PoolObject::Block>::iterator PoolObject::TakeRecords(
    Job& job, absl::btree_map<int64_t, Block>::iterator it, size_t k, Taken& taken) {
  const int64_t front = it->first;
  Block& b = it->second;
  const uint32_t begin = b.taken == 0 ? 0 : b.ends[b.taken - 1];
  const uint32_t end = b.ends[b.taken + k - 1];
  taken.records.append(b.records, begin, end - begin);
  const size_t runs = taken.indexes.size();
  if (runs >= 2 && Follows(taken.indexes[runs - 2].as_int(),
                           static_cast<size_t>(taken.indexes[runs - 1].as_int()), front)) {
    taken.indexes[runs - 1] = Value(taken.indexes[runs - 1].as_int() + static_cast<int64_t>(k));
  } else {
    taken.indexes.emplace_back(front);
    taken.indexes.emplace_back(static_cast<int64_t>(k));
  }
  taken.bytes += RecordBytes(0) * static_cast<int64_t>(k) + (end - begin);
  job.live.EraseRange(front, front + static_cast<int64_t>(k) - 1);
  if (k == b.size()) return job.blocks.erase(it);
  // What is left is keyed by its new front, and once the records taken are
  // half the block's, they go, so that a block that grows while it is
  // fetched a little at a time holds little more than what waits.
  Block rest = std::move(b);
  rest.taken += k;
  if (end >= rest.records.size() / 2) {
    DropRecords(rest.records, rest.ends, rest.taken);
    rest.taken = 0;
  }
  it = job.blocks.erase(it);
  return job.blocks.emplace_hint(it, front + static_cast<int64_t>(k), std::move(rest));
}

absl::btree_map<int64_t, PoolObject::Block>::iterator PoolObject::SplitAt(Job& job,
                                                                          int64_t index) {
  auto it = job.blocks.upper_bound(index);
  if (it == job.blocks.begin()) return job.blocks.end();
  --it;
  Block& head = it->second;
  const uint64_t skip = static_cast<uint64_t>(index) - static_cast<uint64_t>(it->first);
  if (skip == 0 || skip >= head.size()) return job.blocks.end();
  const size_t at = head.taken + static_cast<size_t>(skip);
  Block tail;
  CopyRecords(head.records, head.ends, at, head.ends.size(), &tail.records, &tail.ends);
  head.records.resize(head.ends[at - 1]);
  head.ends.resize(at);
  return job.blocks.emplace_hint(std::next(it), index, std::move(tail));
}

bool PoolObject::TakeResults(Job& job, const FetchPayload& f, Value* out) {
  Taken taken;
  size_t count = 0;
  const size_t cap = f.max > 0 ? static_cast<size_t>(f.max) : std::numeric_limits<size_t>::max();
  if (f.unordered) {
    // Lowest index first, so that each list ascends.
    auto apart = job.ready.begin();
    auto block = job.blocks.begin();
    while (count < cap && (apart != job.ready.end() || block != job.blocks.end())) {
      if (block == job.blocks.end() || (apart != job.ready.end() && apart->first < block->first)) {
        apart = TakeApart(job, apart, taken);
        ++count;
      } else {
        const size_t k = std::min(block->second.size(), cap - count);
        block = TakeRecords(job, block, k, taken);
        count += k;
      }
    }
  } else {
    int64_t next = f.start;
    while (count < cap) {
      if (auto apart = job.ready.find(next); apart != job.ready.end()) {
        TakeApart(job, apart, taken);
        ++count;
        if (next == kMaxIndex) break;
        ++next;
        continue;
      }
      // The block that starts at next, or the part of one that does.
      auto block = job.blocks.find(next);
      if (block == job.blocks.end()) block = SplitAt(job, next);
      if (block == job.blocks.end()) break;
      const size_t k = std::min(block->second.size(), cap - count);
      TakeRecords(job, block, k, taken);
      count += k;
      const int64_t last = next + static_cast<int64_t>(k - 1);
      if (last == kMaxIndex) break;
      next = last + 1;
    }
  }
  if (count == 0) return false;
  account_.Release(taken.bytes);
  *out = Value(Value::List{Value(static_cast<int64_t>(f.job)), Value::bytes(std::move(taken.records)),
                           Value(std::move(taken.indexes)), Value(std::move(taken.others))});
  return true;
}

void PoolObject::ForgetIfDone(uint64_t job) {
  auto it = jobs_.find(job);
  if (it != jobs_.end() && it->second.live.empty()) jobs_.erase(it);
}

void PoolObject::WakeFetchers(uint64_t job_id, Settlement& settle) {
  if (fetchers_.empty()) return;
  std::vector<WaitId> ready;
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return;
  fetchers_.ForEach([&](const auto& w) {
    if (w.payload.job == job_id) ready.push_back(w.id);
  });
  for (WaitId id : ready) {
    const auto* waiter = fetchers_.Find(id);
    if (waiter == nullptr) continue;
    Value got;
    if (!TakeResults(it->second, waiter->payload, &got)) continue;
    fetchers_.Complete(id, Outcome::Ok(std::move(got)), settle);
  }
  ForgetIfDone(job_id);
}

WaitId PoolObject::Results(WaitRequest request, uint64_t job_id, int64_t start, int64_t max,
                           bool unordered) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || max < 0) {
    absl::Status error =
        max < 0 ? error::ValueError("max must not be negative")
                : error::ValueError(absl::StrCat("job ", job_id, " has no results to fetch"));
    settle.CompleteNow(std::move(request.done), Outcome::Error(std::move(error)));
    return 0;
  }
  const FetchPayload payload{job_id, start, max, unordered};
  Value got;
  if (TakeResults(it->second, payload, &got)) {
    ForgetIfDone(job_id);
    settle.CompleteNow(std::move(request.done), Outcome::Ok(std::move(got)));
    return 0;
  }
  if (DeadlinePassed(request.deadline, *timers_)) {
    settle.CompleteNow(std::move(request.done),
                       Outcome::Error(MakeError(ErrorKind::kTimeoutError,
                                                "no result was ready before the timeout")));
    return 0;
  }
  return fetchers_.Park(request.caller, request.deadline, std::move(request.done), settle,
                        payload);
}

void PoolObject::Close() {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  closed_ = true;
  WakePullers(settle);
}

void PoolObject::Terminate() {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  closed_ = true;
  std::vector<std::pair<Result, int64_t>> failed;  // with the task's charge
  auto fail = [&failed](const Chunk& c, size_t i) {
    Result r;
    r.job = c.job;
    r.index = c.index(i);
    r.ok = false;
    r.error_kind = "RuntimeError";
    r.error_message = "the pool was terminated";
    failed.emplace_back(std::move(r), c.Charge(i));
  };
  for (const Chunk& c : pending_) {
    for (size_t i = 0; i < c.size(); ++i) fail(c, i);
  }
  for (const auto& [id, l] : leased_) {
    for (size_t i = 0; i < l.chunk.size(); ++i) {
      if (!l.reported[i]) fail(l.chunk, i);
    }
  }
  pending_.clear();
  leased_.clear();
  pending_tasks_ = 0;
  leased_tasks_ = 0;
  for (auto& [session, worker] : workers_) worker.leased = 0;
  std::vector<uint64_t> jobs;
  int64_t freed = 0;
  for (auto& [r, task_bytes] : failed) {
    jobs.push_back(r.job);
    Finish(std::move(r), task_bytes, /*reported=*/false, freed);
  }
  account_.Release(freed);
  std::sort(jobs.begin(), jobs.end());
  jobs.erase(std::unique(jobs.begin(), jobs.end()), jobs.end());
  for (uint64_t job : jobs) WakeFetchers(job, settle);
  WakePullers(settle);
}

void PoolObject::Expire(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (HasWaitIdTag(id, kPullerTag)) {
    // A pull that timed out takes nothing: an empty list, not an error.
    pullers_.CompleteExpired(id, Outcome::Ok(Value(Value::List())), settle);
  } else {
    fetchers_.CompleteExpired(
        id,
        Outcome::Error(
            MakeError(ErrorKind::kTimeoutError, "no result was ready before the timeout")),
        settle);
  }
}

void PoolObject::Cancel(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  pullers_.Complete(id, WaitCancelled(), settle);
  fetchers_.Complete(id, WaitCancelled(), settle);
}

void PoolObject::EndSession(SessionId session) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  pullers_.CompleteSession(session, SessionEnded(), settle);
  fetchers_.CompleteSession(session, SessionEnded(), settle);
  auto worker = workers_.find(session);
  if (worker == workers_.end()) return;
  const bool held = worker->second.leased > 0;
  workers_.erase(worker);
  if (!held) return;
  // The session's chunks, in the order they were leased, go back to the
  // front, each as the tasks of it not reported yet.
  std::vector<std::pair<uint64_t, Leased>> lost;
  for (auto it = leased_.begin(); it != leased_.end();) {
    if (it->second.session != session) {
      ++it;
      continue;
    }
    lost.emplace_back(it->first, std::move(it->second));
    leased_.erase(it++);
  }
  std::sort(lost.begin(), lost.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<uint64_t> failed_jobs;
  int64_t freed = 0;
  for (auto it = lost.rbegin(); it != lost.rend(); ++it) {
    Leased& l = it->second;
    Chunk back;
    back.job = l.chunk.job;
    back.attempts = l.chunk.attempts + 1;
    for (size_t i = 0; i < l.chunk.size(); ++i) {
      if (!l.reported[i]) back.AddFrom(l.chunk, i);
    }
    leased_tasks_ -= static_cast<int64_t>(back.size());
    if (back.size() == 0) continue;
    if (l.chunk.attempts >= max_retries_) {
      FailLost(std::move(back), failed_jobs, freed);
    } else {
      pending_tasks_ += static_cast<int64_t>(back.size());
      pending_.push_front(std::move(back));
    }
  }
  account_.Release(freed);
  std::sort(failed_jobs.begin(), failed_jobs.end());
  failed_jobs.erase(std::unique(failed_jobs.begin(), failed_jobs.end()), failed_jobs.end());
  for (uint64_t job : failed_jobs) WakeFetchers(job, settle);
  WakePullers(settle);
}

void PoolObject::FailLost(Chunk chunk, std::vector<uint64_t>& jobs, int64_t& freed) {
  jobs.push_back(chunk.job);
  for (size_t i = 0; i < chunk.size(); ++i) {
    Result r;
    r.job = chunk.job;
    r.index = chunk.index(i);
    r.ok = false;
    r.error_kind = "WorkerLost";
    r.error_message = absl::StrCat("task ", r.index, " of job ", r.job, " lost its worker ",
                                   chunk.attempts, " times (max_retries is ", max_retries_, ")");
    Finish(std::move(r), chunk.Charge(i), /*reported=*/false, freed);
  }
}

PoolObject::Stats PoolObject::GetStats() const {
  MutexLock lock(&mu_);
  Stats s;
  s.pending = pending_tasks_;
  s.leased = leased_tasks_;
  s.pending_chunks = static_cast<int64_t>(pending_.size());
  s.leased_chunks = static_cast<int64_t>(leased_.size());
  s.done = done_;
  s.closed = closed_;
  s.max_retries = max_retries_;
  s.workers = static_cast<int64_t>(workers_.size());
  return s;
}

int64_t PoolObject::KeptRecordBytes() const {
  MutexLock lock(&mu_);
  int64_t bytes = 0;
  for (const auto& [id, job] : jobs_) {
    for (const auto& [front, b] : job.blocks) bytes += static_cast<int64_t>(b.records.size());
  }
  return bytes;
}

std::string PoolObject::Repr() const {
  MutexLock lock(&mu_);
  std::string out = absl::StrCat("<Pool ", closed_ ? "closed" : "open", ", ", pending_tasks_,
                                 " pending, ", leased_tasks_, " leased, ", done_, " done");
  std::vector<std::pair<SessionId, Worker>> workers(workers_.begin(), workers_.end());
  std::sort(workers.begin(), workers.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  const char* sep = "; ";
  for (const auto& [session, w] : workers) {
    absl::StrAppend(&out, sep, "session ", session, ": ", w.leased, " leased, ", w.done, " done");
    sep = ", ";
  }
  out += ">";
  return out;
}

int64_t PoolObject::Size() const {
  MutexLock lock(&mu_);
  return pending_tasks_;
}

void PoolObject::ForEachRef(const std::function<void(const ObjectRef&)>& fn) const {
  MutexLock lock(&mu_);
  for (const Chunk& c : pending_) {
    for (const Task& t : c.tasks) {
      for (const Value& arg : t.args) arg.ForEachRef(fn);
    }
  }
  for (const auto& [id, l] : leased_) {
    for (const Task& t : l.chunk.tasks) {
      for (const Value& arg : t.args) arg.ForEachRef(fn);
    }
  }
  for (const auto& [id, job] : jobs_) {
    for (const auto& [index, r] : job.ready) r.result->value.ForEachRef(fn);
  }
}

Holdings PoolObject::Held() const {
  MutexLock lock(&mu_);
  Holdings out;
  for (const auto& [session, w] : workers_) {
    if (w.leased > 0) out.held.emplace_back(session, w.leased);
  }
  SessionCounts waiting;
  pullers_.CountSessions(waiting);
  fetchers_.CountSessions(waiting);
  out.waiting = CountPairs(waiting);
  return out;
}

}  // namespace shoal::server
