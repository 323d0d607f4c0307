#include "server/objects/pool_object.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

constexpr WaitIdTag kPullerTag = 1;
constexpr WaitIdTag kFetcherTag = 2;

Value TaskValue(uint64_t job, const PoolObject::Task& task, int32_t attempts) {
  return Value(Value::List{Value(static_cast<int64_t>(job)), Value(task.index),
                           Value(task.function), Value(task.args),
                           Value(static_cast<int64_t>(attempts))});
}

Value ResultValue(const PoolObject::Result& r) {
  if (r.ok) {
    return Value(Value::List{Value(static_cast<int64_t>(r.job)), Value(r.index), Value(true),
                             r.value});
  }
  return Value(Value::List{Value(static_cast<int64_t>(r.job)), Value(r.index), Value(false),
                           Value(r.error_kind), Value(r.error_message)});
}

bool IsEmptyList(const Value& v) { return v.is_list() && v.as_list().empty(); }

}  // namespace

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
  // Checked before anything is added, so that a refused submit adds nothing.
  absl::flat_hash_set<int64_t> seen;
  seen.reserve(tasks.size());
  for (const Task& task : tasks) {
    if (job.live.contains(task.index) || !seen.insert(task.index).second) {
      if (fresh || job.live.empty()) jobs_.erase(job_id);
      return error::ValueError(
          absl::StrCat("task ", task.index, " of job ", job_id, " was submitted already"));
    }
  }
  job.live.insert(seen.begin(), seen.end());
  for (Task& task : tasks) {
    for (const Value& arg : task.args) {
      if (arg.contains_ref()) MarkMayHoldRefs();
    }
    pending_.push_back(Pending{job_id, std::move(task), 0});
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
  it->second.ready.insert_or_assign(index, std::move(result));
}

int64_t PoolObject::Report(std::vector<Result> results) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  int64_t taken = 0;
  std::vector<uint64_t> jobs;
  for (Result& result : results) {
    auto it = leased_.find(Key{result.job, result.index});
    if (it == leased_.end()) continue;
    auto worker = workers_.find(it->second.session);
    if (worker != workers_.end()) {
      --worker->second.leased;
      ++worker->second.done;
    }
    leased_.erase(it);
    if (jobs.empty() || jobs.back() != result.job) jobs.push_back(result.job);
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

Value PoolObject::TakeTasks(SessionId session, int64_t max) {
  Value::List out;
  if (pending_.empty()) return Value(std::move(out));
  const uint64_t job = pending_.front().job;
  auto it = jobs_.find(job);
  int64_t limit = it == jobs_.end() ? 1 : it->second.chunksize;
  if (max > 0) limit = std::min(limit, max);
  Worker& worker = workers_[session];
  while (!pending_.empty() && static_cast<int64_t>(out.size()) < limit &&
         pending_.front().job == job) {
    Pending& p = pending_.front();
    out.push_back(TaskValue(p.job, p.task, p.attempts));
    leased_.insert_or_assign(Key{p.job, p.task.index},
                             Leased{session, std::move(p.task), p.attempts});
    ++worker.leased;
    pending_.pop_front();
  }
  return Value(std::move(out));
}

void PoolObject::WakePullers(Settlement& settle) {
  while (!pullers_.empty()) {
    auto* puller = pullers_.Oldest();
    if (!pending_.empty()) {
      Value tasks = TakeTasks(puller->session, puller->payload.max);
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
                       Outcome::Ok(TakeTasks(request.caller.session, max)));
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

Value PoolObject::TakeResults(Job& job, const FetchPayload& f) {
  Value::List out;
  const size_t cap = f.max > 0 ? static_cast<size_t>(f.max) : job.ready.size();
  if (f.unordered) {
    auto it = job.ready.begin();
    while (it != job.ready.end() && out.size() < cap) {
      out.push_back(ResultValue(it->second));
      job.live.erase(it->first);
      it = job.ready.erase(it);
    }
  } else {
    int64_t next = f.start;
    auto it = job.ready.find(next);
    while (it != job.ready.end() && it->first == next && out.size() < cap) {
      out.push_back(ResultValue(it->second));
      job.live.erase(it->first);
      it = job.ready.erase(it);
      ++next;
    }
  }
  return Value(std::move(out));
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
    Value got = TakeResults(it->second, waiter->payload);
    if (IsEmptyList(got)) continue;
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
  Value got = TakeResults(it->second, payload);
  if (!IsEmptyList(got)) {
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
  for (const Pending& p : pending_) fail(p.job, p.task.index);
  for (const auto& [key, leased] : leased_) fail(key.job, key.index);
  pending_.clear();
  leased_.clear();
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
  // The session's tasks, in job and index order, go back to the front.
  std::vector<std::pair<Key, Leased>> lost;
  for (auto it = leased_.begin(); it != leased_.end();) {
    if (it->second.session != session) {
      ++it;
      continue;
    }
    lost.emplace_back(it->first, std::move(it->second));
    leased_.erase(it++);
  }
  std::sort(lost.begin(), lost.end(), [](const auto& a, const auto& b) {
    return a.first.job != b.first.job ? a.first.job < b.first.job
                                      : a.first.index < b.first.index;
  });
  std::vector<uint64_t> failed_jobs;
  for (auto it = lost.rbegin(); it != lost.rend(); ++it) {
    Leased& l = it->second;
    if (l.attempts >= max_retries_) {
      Result r;
      r.job = it->first.job;
      r.index = it->first.index;
      r.ok = false;
      r.error_kind = "WorkerLost";
      r.error_message =
          absl::StrCat("task ", r.index, " of job ", r.job, " lost its worker ", l.attempts + 1,
                       " times (max_retries is ", max_retries_, ")");
      failed_jobs.push_back(r.job);
      Finish(std::move(r));
    } else {
      pending_.push_front(Pending{it->first.job, std::move(l.task), l.attempts + 1});
    }
  }
  std::sort(failed_jobs.begin(), failed_jobs.end());
  failed_jobs.erase(std::unique(failed_jobs.begin(), failed_jobs.end()), failed_jobs.end());
  for (uint64_t job : failed_jobs) WakeFetchers(job, settle);
  WakePullers(settle);
}

PoolObject::Stats PoolObject::GetStats() const {
  MutexLock lock(&mu_);
  Stats s;
  s.pending = static_cast<int64_t>(pending_.size());
  s.leased = static_cast<int64_t>(leased_.size());
  s.done = done_;
  s.closed = closed_;
  s.max_retries = max_retries_;
  s.workers = static_cast<int64_t>(workers_.size());
  return s;
}

std::string PoolObject::Repr() const {
  MutexLock lock(&mu_);
  std::string out = absl::StrCat("<Pool ", closed_ ? "closed" : "open", ", ", pending_.size(),
                                 " pending, ", leased_.size(), " leased, ", done_, " done");
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
  return static_cast<int64_t>(pending_.size());
}

void PoolObject::ForEachRef(const std::function<void(const ObjectRef&)>& fn) const {
  MutexLock lock(&mu_);
  for (const Pending& p : pending_) {
    for (const Value& arg : p.task.args) arg.ForEachRef(fn);
  }
  for (const auto& [key, l] : leased_) {
    for (const Value& arg : l.task.args) arg.ForEachRef(fn);
  }
  for (const auto& [id, job] : jobs_) {
    for (const auto& [index, r] : job.ready) r.value.ForEachRef(fn);
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
