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

absl::StatusOr<std::unique_ptr<Object>> PoolObject::Create(int64_t max_retries, Timers* timers) {
  if (max_retries < 0) return error::ValueError("a Pool's max_retries must not be negative");
  return std::unique_ptr<Object>(std::make_unique<PoolObject>(max_retries, timers));
}

PoolObject::PoolObject(int64_t max_retries, Timers* timers)
    : Object(Kind::kPool),
      max_retries_(max_retries),
      timers_(timers),
      pullers_(timers, kPullerTag, [this](WaitId id) { Expire(id); }),
      fetchers_(timers, kFetcherTag, [this](WaitId id) { Expire(id); }) {}

PoolObject::~PoolObject() {
  const Outcome deleted = Outcome::Error(absl::CancelledError("the Pool was deleted"));
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  pullers_.CompleteAll(deleted, settle);
  fetchers_.CompleteAll(deleted, settle);
}

absl::StatusOr<uint64_t> PoolObject::Submit(uint64_t job_id, int64_t chunksize,
                                            std::vector<Task> tasks) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (closed_) return error::ValueError("Pool not running");
  if (job_id >= next_job_) {
    return error::ValueError(absl::StrCat("no job ", job_id, " in this pool"));
  }
  if (chunksize < 0) return error::ValueError("chunksize must not be negative");
  const bool fresh = job_id == 0;
  if (fresh) job_id = next_job_++;
  Job& job = jobs_[job_id];
  if (chunksize > 0) job.chunksize = chunksize;
  // Checked as they are added, and taken back on a refusal, so that a
  // refused submit adds nothing.
  for (size_t i = 0; i < tasks.size(); ++i) {
    const int64_t index = tasks[i].index;
    if (job.live.Contains(index)) {
      for (size_t j = 0; j < i; ++j) job.live.Erase(tasks[j].index);
      if (fresh || job.live.empty()) jobs_.erase(job_id);
      return error::ValueError(
          absl::StrCat("task ", index, " of job ", job_id, " was submitted already"));
    }
    job.live.Insert(index);
  }
  const size_t per_chunk = static_cast<size_t>(job.chunksize);
  for (size_t at = 0, end = 0; at < tasks.size(); at = end) {
    Chunk chunk;
    chunk.job = job_id;
    // A chunk's tasks are all packed or none.
    const bool packed = !tasks[at].packed.empty();
    end = at;
    while (end < tasks.size() && end - at < per_chunk && tasks[end].packed.empty() != packed) {
      ++end;
    }
    chunk.tasks.reserve(end - at);
    for (size_t i = at; i < end; ++i) {
      for (const Value& arg : tasks[i].args) {
        if (arg.contains_ref()) MarkMayHoldRefs();
      }
      chunk.tasks.push_back(std::move(tasks[i]));
    }
    pending_tasks_ += static_cast<int64_t>(chunk.tasks.size());
    pending_.push_back(std::move(chunk));
  }
  if (job.live.empty()) jobs_.erase(job_id);
  WakePullers(settle);
  return job_id;
}

void PoolObject::Finish(Result result) {
  ++done_;
  auto it = jobs_.find(result.job);
  if (it == jobs_.end()) return;
  if (result.ok && result.value.contains_ref()) MarkMayHoldRefs();
  const int64_t index = result.index;
  Ready ready;
  if (!result.packed.empty()) {
    ready.packed = std::move(result.packed);
  } else {
    ready.other = std::make_unique<Result>(std::move(result));
  }
  it->second.ready.insert_or_assign(index, std::move(ready));
}

int64_t PoolObject::PlaceOf(Leased& l, int64_t index) {
  const std::vector<Task>& tasks = l.chunk.tasks;
  if (l.hint < tasks.size() && tasks[l.hint].index == index) return static_cast<int64_t>(l.hint);
  if (l.sorted) {
    auto it = std::lower_bound(tasks.begin(), tasks.end(), index,
                               [](const Task& t, int64_t i) { return t.index < i; });
    if (it != tasks.end() && it->index == index) return it - tasks.begin();
    return -1;
  }
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (tasks[i].index == index) return static_cast<int64_t>(i);
  }
  return -1;
}

bool PoolObject::FindLeased(uint64_t job, int64_t index, uint64_t* chunk) const {
  for (const auto& [id, l] : leased_) {
    if (l.chunk.job != job) continue;
    for (size_t i = 0; i < l.chunk.tasks.size(); ++i) {
      if (l.chunk.tasks[i].index == index && !l.reported[i]) {
        *chunk = id;
        return true;
      }
    }
  }
  return false;
}

int64_t PoolObject::Report(std::vector<Result> results) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  int64_t taken = 0;
  std::vector<uint64_t> jobs;
  auto lease = leased_.end();
  for (Result& result : results) {
    uint64_t chunk = result.chunk;
    if (chunk == 0 && !FindLeased(result.job, result.index, &chunk)) continue;
    // A chunk's results come together: look the lease up once for them.
    if (lease == leased_.end() || lease->first != chunk) lease = leased_.find(chunk);
    if (lease == leased_.end()) continue;
    Leased& l = lease->second;
    if (l.chunk.job != result.job) continue;
    const int64_t place = PlaceOf(l, result.index);
    if (place < 0 || l.reported[static_cast<size_t>(place)]) continue;
    l.reported[static_cast<size_t>(place)] = true;
    l.hint = static_cast<size_t>(place) + 1;
    --l.remaining;
    --leased_tasks_;
    auto worker = workers_.find(l.session);
    if (worker != workers_.end()) {
      --worker->second.leased;
      ++worker->second.done;
    }
    if (jobs.empty() || jobs.back() != result.job) jobs.push_back(result.job);
    if (l.remaining == 0) {
      leased_.erase(lease);
      lease = leased_.end();
    }
    Finish(std::move(result));
    ++taken;
  }
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
  if (max > 0 && static_cast<size_t>(max) < front.tasks.size()) {
    // The first max tasks go; the rest keep their place.
    l.chunk.job = front.job;
    l.chunk.attempts = front.attempts;
    auto cut = front.tasks.begin() + max;
    l.chunk.tasks.assign(std::make_move_iterator(front.tasks.begin()),
                         std::make_move_iterator(cut));
    front.tasks.erase(front.tasks.begin(), cut);
  } else {
    l.chunk = std::move(front);
    pending_.pop_front();
  }
  const uint64_t id = next_chunk_++;
  const int64_t n = static_cast<int64_t>(l.chunk.tasks.size());
  pending_tasks_ -= n;
  leased_tasks_ += n;
  workers_[session].leased += n;
  l.reported.assign(l.chunk.tasks.size(), false);
  l.remaining = n;
  if (n == 0) return Value(Value::List());
  const std::vector<Task>& tasks = l.chunk.tasks;
  for (size_t i = 1; i < tasks.size(); ++i) {
    if (tasks[i - 1].index >= tasks[i].index) l.sorted = false;
  }
  const bool packed = !tasks.front().packed.empty();
  Value::List out{Value(packed), Value(static_cast<int64_t>(l.chunk.job)),
                  Value(static_cast<int64_t>(id)), Value(static_cast<int64_t>(l.chunk.attempts))};
  if (packed) {
    Value::List indexes;
    indexes.reserve(tasks.size());
    size_t bytes = 0;
    for (const Task& task : tasks) bytes += task.packed.size();
    std::string records;
    records.reserve(bytes);
    for (const Task& task : tasks) {
      indexes.emplace_back(task.index);
      records += task.packed;
    }
    out.emplace_back(tasks.front().function);
    out.emplace_back(std::move(indexes));
    out.push_back(Value::bytes(std::move(records)));
  } else {
    Value::List values;
    values.reserve(tasks.size());
    for (const Task& task : tasks) values.push_back(TaskValue(task));
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

void PoolObject::TakeOne(int64_t index, Ready& r, Taken& taken) {
  if (r.other == nullptr) {
    taken.records += r.packed;
    taken.indexes.emplace_back(index);
  } else {
    taken.others.push_back(ResultValue(*r.other));
  }
}

bool PoolObject::TakeResults(Job& job, const FetchPayload& f, Value* out) {
  Taken taken;
  size_t count = 0;
  const size_t cap = f.max > 0 ? static_cast<size_t>(f.max) : job.ready.size();
  // Most results come packed, a few bytes each.
  const size_t most = std::min(cap, job.ready.size());
  taken.indexes.reserve(most);
  taken.records.reserve(most * 8);
  if (f.unordered) {
    auto it = job.ready.begin();
    while (it != job.ready.end() && count < cap) {
      TakeOne(it->first, it->second, taken);
      ++count;
      job.live.Erase(it->first);
      it = job.ready.erase(it);
    }
  } else {
    int64_t next = f.start;
    auto it = job.ready.find(next);
    while (it != job.ready.end() && it->first == next && count < cap) {
      TakeOne(it->first, it->second, taken);
      ++count;
      job.live.Erase(it->first);
      it = job.ready.erase(it);
      ++next;
    }
  }
  if (count == 0) return false;
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
  std::vector<Result> failed;
  auto fail = [&failed](uint64_t job, int64_t index) {
    Result r;
    r.job = job;
    r.index = index;
    r.ok = false;
    r.error_kind = "RuntimeError";
    r.error_message = "the pool was terminated";
    failed.push_back(std::move(r));
  };
  for (const Chunk& c : pending_) {
    for (const Task& t : c.tasks) fail(c.job, t.index);
  }
  for (const auto& [id, l] : leased_) {
    for (size_t i = 0; i < l.chunk.tasks.size(); ++i) {
      if (!l.reported[i]) fail(l.chunk.job, l.chunk.tasks[i].index);
    }
  }
  pending_.clear();
  leased_.clear();
  pending_tasks_ = 0;
  leased_tasks_ = 0;
  for (auto& [session, worker] : workers_) worker.leased = 0;
  std::vector<uint64_t> jobs;
  for (Result& r : failed) {
    jobs.push_back(r.job);
    Finish(std::move(r));
  }
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
  for (auto it = lost.rbegin(); it != lost.rend(); ++it) {
    Leased& l = it->second;
    Chunk back;
    back.job = l.chunk.job;
    back.attempts = l.chunk.attempts + 1;
    back.tasks.reserve(static_cast<size_t>(l.remaining));
    for (size_t i = 0; i < l.chunk.tasks.size(); ++i) {
      if (!l.reported[i]) back.tasks.push_back(std::move(l.chunk.tasks[i]));
    }
    leased_tasks_ -= static_cast<int64_t>(back.tasks.size());
    if (back.tasks.empty()) continue;
    if (l.chunk.attempts >= max_retries_) {
      FailLost(std::move(back), failed_jobs);
    } else {
      pending_tasks_ += static_cast<int64_t>(back.tasks.size());
      pending_.push_front(std::move(back));
    }
  }
  std::sort(failed_jobs.begin(), failed_jobs.end());
  failed_jobs.erase(std::unique(failed_jobs.begin(), failed_jobs.end()), failed_jobs.end());
  for (uint64_t job : failed_jobs) WakeFetchers(job, settle);
  WakePullers(settle);
}

void PoolObject::FailLost(Chunk chunk, std::vector<uint64_t>& jobs) {
  jobs.push_back(chunk.job);
  for (const Task& task : chunk.tasks) {
    Result r;
    r.job = chunk.job;
    r.index = task.index;
    r.ok = false;
    r.error_kind = "WorkerLost";
    r.error_message = absl::StrCat("task ", r.index, " of job ", r.job, " lost its worker ",
                                   chunk.attempts, " times (max_retries is ", max_retries_, ")");
    Finish(std::move(r));
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
    for (const auto& [index, r] : job.ready) {
      if (r.other != nullptr) r.other->value.ForEachRef(fn);
    }
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
