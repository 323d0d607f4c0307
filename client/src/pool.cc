// Pool, its AsyncResults and iterators, and the worker loop that local
// workers and serve_pool run: over the server's Pool object (pool.proto).
#include "shoal/pool.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/src/call.h"
#include "client/src/client_session.h"
#include "client/src/error_mapping.h"
#include "client/src/methods.h"
#include "client/src/object_handle.h"
#include "shoal/errors.h"
#include "shoal/process.h"
#include "shoal/proxy.h"
#include "shoal/v1/pool.pb.h"

namespace shoal {

Functions& Functions::add(std::string name, PoolFunction fn) {
  fns_[std::move(name)] = std::move(fn);
  return *this;
}

const PoolFunction* Functions::find(const std::string& name) const {
  auto it = fns_.find(name);
  return it == fns_.end() ? nullptr : &it->second;
}

namespace detail {
namespace {

using method::PoolService::Pull;
using method::PoolService::Report;
using method::PoolService::Results;
using method::PoolService::Submit;

// Tasks per Submit message, and bytes: a message stays well under a frame.
// A Submit message ends at a chunk's end once past these; a chunk whose
// tasks alone pass kMaxChunkBytes is cut there (the server makes a chunk of
// each part), so that no message comes near the server's limit (16 MiB).
constexpr int kTasksPerSubmit = 4096;
constexpr size_t kBytesPerMessage = 256 * 1024;
constexpr size_t kMaxChunkBytes = 4 * 1024 * 1024;

// The server's Pool object, as the rest of this file calls it.
class PoolProxy : public ObjectProxy {
 public:
  AsyncTarget target() const { return immediate_target(); }

 private:
  friend class detail::ProxyAccess;
  explicit PoolProxy(std::shared_ptr<ObjectHandle> handle) : ObjectProxy(std::move(handle)) {}
};

struct TaskIn {
  uint64_t job = 0;
  int64_t index = 0;
  uint64_t chunk = 0;
  std::string function;
  Value::List args;
};

struct ResultIn {
  int64_t index = 0;
  bool ok = true;
  Value value;
  std::string kind;
  std::string message;
};

std::exception_ptr ErrorOf(const ResultIn& r) { return ExceptionForKind(r.kind, r.message); }

PoolProxy MakePool(const Manager& manager, const std::string& name,
                   std::optional<int64_t> max_retries) {
  CreateOptions options;
  options.max_retries = max_retries;
  return ProxyAccess::Make<PoolProxy>(
      ProxyAccess::Create(manager, Kind::kPool, name, Value(), options));
}

// The arguments of task i, written into a task message.
using EncodeArgs = std::function<void(size_t i, v1::PoolTask* task, KeepAlive* keep_alive)>;

// Submits n tasks of func (task i is first_index + i, its arguments written
// by encode) to job (0: new), in chunks of chunksize; returns the job. Each
// message holds whole chunks, as the server cuts each message's tasks into
// chunks. The first message goes alone, for the job's id; the rest are
// pipelined.
uint64_t SubmitTasks(const PoolProxy& pool, uint64_t job, int64_t chunksize,
                     const std::string& func, size_t n, const EncodeArgs& encode,
                     int64_t first_index) {
  const AsyncTarget target = pool.target();
  std::vector<Future<uint64_t>> sent;
  size_t i = 0;
  auto job_of = [](ClientSession&, v1::SubmitReply& reply) { return reply.job(); };
  do {
    ArenaRequest<v1::SubmitRequest> request(target);
    request->set_job(job);
    request->set_chunksize(chunksize);
    KeepAlive keep_alive;
    size_t bytes = 0;
    int in_message = 0;
    request->set_function(func);
    size_t chunk_bytes = 0;
    int in_chunk = 0;
    while (i < n) {
      if (in_chunk == chunksize) {
        // A chunk ends here: so may the message.
        if (in_message >= kTasksPerSubmit || bytes >= kBytesPerMessage) break;
        in_chunk = 0;
        chunk_bytes = 0;
      } else if (chunk_bytes >= kMaxChunkBytes) {
        break;
      }
      v1::PoolTask* task = request->add_tasks();
      task->set_index(first_index + static_cast<int64_t>(i));
      encode(i, task, &keep_alive);
      const size_t size = task->ByteSizeLong();
      bytes += size;
      chunk_bytes += size;
      ++in_message;
      ++in_chunk;
      ++i;
    }
    Future<uint64_t> f = Start(target, Submit, *request, std::move(keep_alive), job_of);
    if (job == 0) {
      job = f.get();
    } else {
      sent.push_back(std::move(f));
    }
  } while (i < n);
  for (Future<uint64_t>& f : sent) f.get();
  return job;
}

std::vector<ResultIn> FetchResults(const PoolProxy& pool, uint64_t job, int64_t start,
                                   int64_t max, bool unordered, Timeout timeout) {
  const AsyncTarget target = pool.target();
  v1::ResultsRequest request = RequestFor<v1::ResultsRequest>(target);
  request.set_job(job);
  request.set_start(start);
  request.set_max(max);
  request.set_unordered(unordered);
  if (timeout.has_value()) request.set_timeout(std::max(0.0, timeout->count()));
  return Start(target, Results, request, KeepAlive(),
               [](ClientSession& session, v1::ResultsReply& reply) {
                 std::vector<ResultIn> out;
                 out.reserve(static_cast<size_t>(reply.results_size()));
                 for (v1::TaskResult& r : *reply.mutable_results()) {
                   ResultIn in;
                   in.index = r.index();
                   if (r.has_error()) {
                     in.ok = false;
                     in.kind = r.error().kind();
                     in.message = r.error().message();
                   } else {
                     in.value = session.Adopt(r.value());
                   }
                   out.push_back(std::move(in));
                 }
                 return out;
               })
      .get();
}

// Runs one task, into its result message.
void RunTask(const Functions& fns, const TaskIn& task, v1::TaskResult* out,
             KeepAlive* keep_alive) {
  out->set_job(task.job);
  out->set_index(task.index);
  out->set_chunk(task.chunk);
  auto fail = [out](const std::string& kind, const std::string& message) {
    out->mutable_error()->set_kind(kind);
    out->mutable_error()->set_message(message);
  };
  const PoolFunction* fn = fns.find(task.function);
  if (fn == nullptr) {
    return fail("ValueError",
                absl::StrCat("no function '", task.function, "' is registered in this worker"));
  }
  try {
    Value result = (*fn)(task.args);
    EncodeArg(result, out->mutable_value(), keep_alive);
  } catch (const Error& e) {
    fail(e.kind(), e.what());
  } catch (const std::exception& e) {
    fail("RuntimeError", e.what());
  } catch (...) {
    fail("RuntimeError", "the function threw something that is not a std::exception");
  }
}

// Pulls and runs tasks until the pool is closed and drained, or max_tasks
// (> 0) were run. Each pull carries the results of the one before.
void RunWorker(const PoolProxy& pool, const Functions& fns, int max_tasks) {
  const AsyncTarget target = pool.target();
  int64_t done = 0;
  v1::PullRequest request;
  KeepAlive keep_alive;
  auto tasks_of = [](ClientSession& session,
                     v1::PullReply& reply) -> std::optional<std::vector<TaskIn>> {
    if (reply.closed()) return std::nullopt;
    std::vector<TaskIn> out;
    out.reserve(static_cast<size_t>(reply.tasks_size()));
    for (v1::PoolTask& t : *reply.mutable_tasks()) {
      TaskIn in;
      in.job = t.job();
      in.index = t.index();
      in.chunk = t.chunk();
      in.function = std::move(*t.mutable_function());
      in.args.reserve(static_cast<size_t>(t.args_size()));
      for (const v1::Value& arg : t.args()) in.args.push_back(session.Adopt(arg));
      out.push_back(std::move(in));
    }
    return out;
  };
  while (true) {
    request.set_id(target.handle->id());
    request.set_max(max_tasks > 0 ? max_tasks - done : 0);
    std::optional<std::vector<TaskIn>> tasks =
        Start(target, Pull, request, std::move(keep_alive), tasks_of).get();
    request.Clear();
    keep_alive = KeepAlive();
    if (!tasks.has_value()) return;
    size_t bytes = 0;
    for (const TaskIn& task : *tasks) {
      v1::TaskResult* result = request.add_results();
      RunTask(fns, task, result, &keep_alive);
      ++done;
      bytes += result->ByteSizeLong();
      if (bytes > kBytesPerMessage) {
        // Large results go ahead, so that no message grows past a frame.
        v1::ReportRequest report = RequestFor<v1::ReportRequest>(target);
        report.mutable_results()->Swap(request.mutable_results());
        Start(target, Report, report, std::move(keep_alive), NoResult).get();
        keep_alive = KeepAlive();
        bytes = 0;
      }
    }
    if (max_tasks > 0 && done >= max_tasks) {
      v1::ReportRequest report = RequestFor<v1::ReportRequest>(target);
      report.mutable_results()->Swap(request.mutable_results());
      Start(target, Report, report, std::move(keep_alive), NoResult).get();
      return;
    }
  }
}

// Each item is the one argument of its task.
EncodeArgs OneArgEach(const Value::List& items) {
  return [&items](size_t i, v1::PoolTask* task, KeepAlive* keep_alive) {
    EncodeArg(items[i], task->add_args(), keep_alive);
  };
}

// Each list holds the arguments of its task.
EncodeArgs ArgLists(const std::vector<Value::List>& args) {
  return [&args](size_t i, v1::PoolTask* task, KeepAlive* keep_alive) {
    for (const Value& arg : args[i]) EncodeArg(arg, task->add_args(), keep_alive);
  };
}

}  // namespace

struct PoolState {
  Manager manager;
  PoolProxy pool;
  Functions fns;
  PoolOptions options;
  int processes = 0;

  std::mutex mu;
  std::condition_variable changed;
  // The local workers; a slot's Process is replaced when its worker leaves
  // while the pool has work.
  std::vector<std::unique_ptr<Process>> workers;  // guarded by mu
  bool closed = false;                            // guarded by mu
  bool terminated = false;                        // guarded by mu
  bool joined = false;                            // guarded by mu
  std::thread supervisor;
  std::vector<std::thread> callbacks;  // guarded by mu

  PoolState(const Manager& m, PoolProxy p, const Functions& f, PoolOptions o)
      : manager(m), pool(std::move(p)), fns(f), options(std::move(o)) {}

  std::unique_ptr<Process> StartWorker() {
    const pid_t parent = getpid();
    auto worker = std::make_unique<Process>([this, parent] {
      // A local worker goes with the process that owns its pool, as
      // Python's daemonic pool workers do, rather than wait for tasks for
      // ever once its owner died without terminate().
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) return;
      if (options.initializer) options.initializer();
      RunWorker(pool, fns, options.maxtasksperchild);
    });
    worker->start();
    return worker;
  }

  // Whether the server still has tasks pending or leased.
  bool HasWork() {
    const AsyncTarget target = pool.target();
    try {
      v1::PoolStatsReply stats = Start(target, method::PoolService::Stats,
                                       RequestFor<v1::ObjectRequest>(target), KeepAlive(),
                                       WholeReply)
                                     .get();
      return stats.pending() + stats.leased() > 0;
    } catch (const Error&) {
      return false;
    }
  }

  // Replaces the local workers that left, while the pool may have work:
  // always while it is open, and after close() while tasks remain (a worker
  // killed then leaves its tasks to the others, or to its replacement).
  void Supervise() {
    std::unique_lock<std::mutex> lock(mu);
    while (!terminated) {
      changed.wait_for(lock, std::chrono::milliseconds(20));
      if (terminated) break;
      std::vector<size_t> gone;
      for (size_t i = 0; i < workers.size(); ++i) {
        if (workers[i] != nullptr && !workers[i]->is_alive()) gone.push_back(i);
      }
      if (gone.empty()) continue;
      const bool was_closed = closed;
      lock.unlock();
      const bool replace = !was_closed || HasWork();
      lock.lock();
      if (terminated) break;
      for (size_t i : gone) {
        if (replace) {
          workers[i] = StartWorker();
        } else {
          workers[i]->join();
          workers[i].reset();
        }
      }
      if (closed && std::all_of(workers.begin(), workers.end(),
                                [](const auto& w) { return w == nullptr; })) {
        break;
      }
    }
  }
};

struct AsyncState {
  std::shared_ptr<PoolState> owner;
  uint64_t job = 0;
  size_t n = 0;
  // apply_async: the one result itself, not a list.
  bool single = false;

  std::mutex mu;
  // The values by index, whether each came, and the failed tasks' results.
  std::vector<Value> values;              // guarded by mu
  std::vector<bool> got;                  // guarded by mu
  std::map<size_t, ResultIn> errors;      // guarded by mu
  size_t received = 0;                    // guarded by mu

  void Resize(size_t count) {
    n = count;
    values.resize(count);
    got.resize(count);
  }

  // Fetches until every result is in; false when the timeout passed first.
  bool Fetch(Timeout timeout) {
    std::lock_guard<std::mutex> lock(mu);
    const auto deadline =
        timeout.has_value()
            ? std::optional(std::chrono::steady_clock::now() +
                            std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                *timeout))
            : std::nullopt;
    while (received < n) {
      Timeout left;
      if (deadline.has_value()) {
        left = std::chrono::duration<double>(*deadline - std::chrono::steady_clock::now());
        if (left->count() < 0) left = std::chrono::duration<double>(0);
      }
      std::vector<ResultIn> fetched;
      try {
        fetched = FetchResults(owner->pool, job, 0, 0, /*unordered=*/true, left);
      } catch (const TimeoutError&) {
        return false;
      }
      for (ResultIn& r : fetched) {
        const size_t at = static_cast<size_t>(r.index);
        if (at >= n || got[at]) continue;
        got[at] = true;
        ++received;
        if (r.ok) {
          values[at] = std::move(r.value);
        } else {
          errors.emplace(at, std::move(r));
        }
      }
    }
    return true;
  }

  // The result, or the error of the first failed task.
  Value Take() {
    std::lock_guard<std::mutex> lock(mu);
    if (!errors.empty()) std::rethrow_exception(ErrorOf(errors.begin()->second));
    if (single) return values[0];
    return Value(values);
  }
};

struct ImapState {
  std::shared_ptr<PoolState> owner;
  std::string func;
  std::vector<Value::List> args;
  int64_t chunksize = 1;
  bool unordered = false;
  size_t buffersize = 0;

  uint64_t job = 0;
  size_t submitted = 0;
  size_t yielded = 0;
  std::deque<ResultIn> ready;
  // The iterator's current value, for operator*.
  std::optional<ResultIn> current;

  // Submits whole chunks while the tasks submitted and not yet yielded stay
  // within buffersize (one chunk at least, when none is in flight: a
  // buffersize under the chunksize runs one chunk at a time).
  void SubmitMore() {
    size_t until = args.size();
    if (buffersize > 0 && yielded + buffersize < until) {
      const size_t chunk = static_cast<size_t>(chunksize);
      until = submitted + (yielded + buffersize - std::min(submitted, yielded + buffersize)) /
                              chunk * chunk;
      if (until == submitted && submitted == yielded) until = submitted + chunk;
      until = std::min(until, args.size());
    }
    if (submitted >= until) return;
    const size_t from = submitted;
    job = SubmitTasks(
        owner->pool, job, chunksize, func, until - from,
        [this, from](size_t i, v1::PoolTask* task, KeepAlive* keep_alive) {
          for (const Value& arg : args[from + i]) EncodeArg(arg, task->add_args(), keep_alive);
        },
        static_cast<int64_t>(from));
    // The submitted arguments are not needed here any more.
    for (size_t i = submitted; i < until; ++i) args[i] = Value::List();
    submitted = until;
  }

  std::optional<ResultIn> Next(Timeout timeout) {
    if (yielded >= args.size()) return std::nullopt;
    SubmitMore();
    if (ready.empty()) {
      std::vector<ResultIn> got = FetchResults(owner->pool, job, static_cast<int64_t>(yielded),
                                               0, unordered, timeout);
      for (ResultIn& r : got) ready.push_back(std::move(r));
    }
    ResultIn r = std::move(ready.front());
    ready.pop_front();
    ++yielded;
    SubmitMore();
    return r;
  }
};

}  // namespace detail

namespace {

// Runs callback with the result of state, or error_callback with its error,
// on a thread of the pool's once the result is in.
void AddCallbacks(detail::PoolState& pool, const std::shared_ptr<detail::AsyncState>& state,
                  Pool::Callback callback, Pool::ErrorCallback error_callback) {
  if (!callback && !error_callback) return;
  std::lock_guard<std::mutex> lock(pool.mu);
  pool.callbacks.emplace_back([state, callback = std::move(callback),
                               error_callback = std::move(error_callback)] {
    state->Fetch(std::nullopt);
    try {
      Value v = state->Take();
      if (callback) callback(v);
    } catch (...) {
      if (error_callback) error_callback(std::current_exception());
    }
  });
}

// Python's default chunksize for map: the tasks over four times the workers,
// rounded up.
int64_t DefaultChunksize(size_t tasks, int workers) {
  if (tasks == 0) return 1;
  const size_t per = static_cast<size_t>(std::max(workers, 1)) * 4;
  return static_cast<int64_t>((tasks + per - 1) / per);
}

}  // namespace

Value AsyncResult::get(Timeout timeout) {
  if (!state_->Fetch(timeout)) throw TimeoutError("the result is not ready");
  return state_->Take();
}

void AsyncResult::wait(Timeout timeout) { state_->Fetch(timeout); }

bool AsyncResult::ready() { return state_->Fetch(std::chrono::duration<double>(0)); }

bool AsyncResult::successful() {
  if (!ready()) throw ValueError("the result is not ready");
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->errors.empty();
}

Value ResultIterator::iterator::operator*() const {
  const detail::ResultIn& r = *state_->current;
  if (!r.ok) std::rethrow_exception(detail::ErrorOf(r));
  return r.value;
}

ResultIterator::iterator& ResultIterator::iterator::operator++() {
  state_->current = state_->Next(std::nullopt);
  if (!state_->current.has_value()) state_ = nullptr;
  return *this;
}

bool ResultIterator::iterator::operator==(const iterator& other) const {
  return state_ == other.state_;
}

ResultIterator::iterator ResultIterator::begin() {
  state_->current = state_->Next(std::nullopt);
  return iterator(state_->current.has_value() ? state_.get() : nullptr);
}

std::optional<Value> ResultIterator::next(Timeout timeout) {
  std::optional<detail::ResultIn> r = state_->Next(timeout);
  if (!r.has_value()) return std::nullopt;
  if (!r->ok) std::rethrow_exception(detail::ErrorOf(*r));
  return r->value;
}

Pool::Pool(const Manager& manager, const Functions& fns, PoolOptions options) {
  if (options.max_retries < 0) throw ValueError("max_retries must not be negative");
  if (options.maxtasksperchild < 0) throw ValueError("maxtasksperchild must not be negative");
  int processes = options.processes.has_value()
                      ? *options.processes
                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (processes < 0) throw ValueError("Number of processes must be at least 0");
  detail::PoolProxy pool = detail::MakePool(manager, options.name, options.max_retries);
  state_ = std::make_shared<detail::PoolState>(manager, std::move(pool), fns, std::move(options));
  state_->processes = processes;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    for (int i = 0; i < processes; ++i) state_->workers.push_back(state_->StartWorker());
  }
  if (processes > 0) state_->supervisor = std::thread([s = state_.get()] { s->Supervise(); });
}

Pool::~Pool() {
  bool joined;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    joined = state_->joined;
  }
  try {
    if (!joined) terminate();
    if (!state_->options.name.empty()) state_->manager.delete_named(state_->options.name);
  } catch (const Error&) {
    // The session is gone: the server ends what it held.
  }
}

Value Pool::apply(const std::string& func, Value::List args) {
  return apply_async(func, std::move(args)).get();
}

AsyncResult Pool::apply_async(const std::string& func, Value::List args, Callback callback,
                              ErrorCallback error_callback) {
  std::vector<Value::List> one;
  one.push_back(std::move(args));
  auto state = std::make_shared<detail::AsyncState>();
  state->owner = state_;
  state->Resize(1);
  state->single = true;
  state->job = detail::SubmitTasks(state_->pool, 0, 1, func, 1, detail::ArgLists(one), 0);
  AddCallbacks(*state_, state, std::move(callback), std::move(error_callback));
  return AsyncResult(std::move(state));
}

AsyncResult Pool::starmap_async(const std::string& func, const std::vector<Value::List>& args,
                                int chunksize, Callback callback, ErrorCallback error_callback) {
  return MapAsync(func, args.size(), detail::ArgLists(args), chunksize, std::move(callback),
                  std::move(error_callback));
}

AsyncResult Pool::MapAsync(const std::string& func, size_t n,
                           const detail::EncodeArgs& encode,
                           int chunksize, Callback callback, ErrorCallback error_callback) {
  if (chunksize <= 0) chunksize = state_->options.chunksize;
  const int workers = state_->processes > 0 ? state_->processes : 4;
  const int64_t chunk = chunksize > 0 ? chunksize : DefaultChunksize(n, workers);
  auto state = std::make_shared<detail::AsyncState>();
  state->owner = state_;
  state->Resize(n);
  if (n > 0) state->job = detail::SubmitTasks(state_->pool, 0, chunk, func, n, encode, 0);
  AddCallbacks(*state_, state, std::move(callback), std::move(error_callback));
  return AsyncResult(std::move(state));
}

AsyncResult Pool::map_async(const std::string& func, const Value::List& items, int chunksize,
                            Callback callback, ErrorCallback error_callback) {
  return MapAsync(func, items.size(), detail::OneArgEach(items), chunksize, std::move(callback),
                  std::move(error_callback));
}

Value::List Pool::map(const std::string& func, const Value::List& items, int chunksize) {
  return map_async(func, items, chunksize).get().as_list();
}

Value::List Pool::starmap(const std::string& func, const std::vector<Value::List>& args,
                          int chunksize) {
  return starmap_async(func, args, chunksize).get().as_list();
}

ResultIterator Pool::imap(const std::string& func, const Value::List& items, int chunksize) {
  auto state = std::make_shared<detail::ImapState>();
  state->owner = state_;
  state->func = func;
  state->args.reserve(items.size());
  for (const Value& item : items) state->args.push_back(Value::List{item});
  state->chunksize = std::max(chunksize, 1);
  state->buffersize = static_cast<size_t>(std::max(state_->options.buffersize, 0));
  state->SubmitMore();
  return ResultIterator(std::move(state));
}

ResultIterator Pool::imap_unordered(const std::string& func, const Value::List& items,
                                    int chunksize) {
  ResultIterator it = imap(func, items, chunksize);
  it.state_->unordered = true;
  return it;
}

void Pool::close() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->closed = true;
  }
  const detail::AsyncTarget target = state_->pool.target();
  detail::Start(target, detail::method::PoolService::Close,
                detail::RequestFor<v1::ObjectRequest>(target), detail::KeepAlive(),
                detail::NoResult)
      .get();
  state_->changed.notify_all();
}

void Pool::terminate() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->joined) return;
    state_->closed = true;
    state_->terminated = true;
  }
  state_->changed.notify_all();
  try {
    const detail::AsyncTarget target = state_->pool.target();
    detail::Start(target, detail::method::PoolService::Terminate,
                  detail::RequestFor<v1::ObjectRequest>(target), detail::KeepAlive(),
                  detail::NoResult)
        .get();
  } catch (const Error&) {
    // Without the server, the workers are stopped all the same.
  }
  if (state_->supervisor.joinable()) state_->supervisor.join();
  std::vector<std::unique_ptr<Process>> workers;
  std::vector<std::thread> callbacks;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    workers.swap(state_->workers);
    callbacks.swap(state_->callbacks);
    state_->joined = true;
  }
  for (auto& w : workers) {
    if (w == nullptr) continue;
    w->terminate();
    w->join();
  }
  for (std::thread& t : callbacks) t.join();
}

void Pool::join() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->joined) return;
    if (!state_->closed) throw ValueError("Pool is still running");
  }
  if (state_->supervisor.joinable()) state_->supervisor.join();
  std::vector<std::unique_ptr<Process>> workers;
  std::vector<std::thread> callbacks;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    workers.swap(state_->workers);
    callbacks.swap(state_->callbacks);
    state_->joined = true;
  }
  for (auto& w : workers) {
    if (w != nullptr) w->join();
  }
  for (std::thread& t : callbacks) t.join();
}

std::vector<pid_t> Pool::pids() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  std::vector<pid_t> out;
  for (const auto& w : state_->workers) {
    if (w != nullptr && w->is_alive() && w->pid().has_value()) out.push_back(*w->pid());
  }
  return out;
}

std::string Pool::token() const { return state_->pool.token(); }

void serve_pool(const Manager& manager, std::string_view name, const Functions& fns,
                int max_tasks) {
  if (name.empty()) throw ValueError("serve_pool needs the name of a pool");
  detail::PoolProxy pool = detail::MakePool(manager, std::string(name), std::nullopt);
  detail::RunWorker(pool, fns, max_tasks);
}

}  // namespace shoal
