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
#include <functional>
#include <limits>
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
#include "shared/packed_values.h"
#include "shared/stack_arena.h"
#include "shared/value_codec.h"
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

// The arguments of the tasks of a submit: each item of a list the one
// argument of its task, or each list the arguments of its task.
struct TaskArgs {
  const Value::List* items = nullptr;
  const std::vector<Value::List>* lists = nullptr;
  size_t from = 0;

  // Calls f with each argument of task i.
  template <typename F>
  void Each(size_t i, F&& f) const {
    if (items != nullptr) {
      f((*items)[from + i]);
      return;
    }
    for (const Value& arg : (*lists)[from + i]) f(arg);
  }
};

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
  int64_t index = 0;
  std::string function;
  // The arguments, as a list.
  Value args;
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

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Appends task i's arguments to out as one packed record (a list Value,
// pool.proto's PackedArgs), written directly as protobuf would write it;
// items is scratch.
void AppendPackedArgs(const TaskArgs& args, size_t i, std::string* items, std::string* out) {
  items->clear();
  std::string value;
  args.Each(i, [&](const Value& arg) {
    value.clear();
    if (absl::Status encoded = AppendPackedValue(arg, &value); !encoded.ok()) {
      throw ValueError(std::string(encoded.message()));
    }
    AppendRecord(value, items);
  });
  out->push_back(WireTag(1, kWireLengthDelimited));
  AppendVarint(1 + VarintSize(items->size()) + items->size(), out);
  out->push_back(WireTag(v1::Value::kListFieldNumber, kWireLengthDelimited));
  AppendVarint(items->size(), out);
  out->append(*items);
}

// Submits n tasks of func (task i is first_index + i, its arguments those of
// args) to job (0: new), in chunks of chunksize; returns the job. Each
// message holds whole chunks, as the server cuts each message's tasks into
// chunks. The first message goes alone, for the job's id; the rest are
// pipelined. packed (when no argument holds an object reference) sends the
// arguments packed (pool.proto's PackedArgs), which the server keeps as they
// came.
uint64_t SubmitTasks(const PoolProxy& pool, uint64_t job, int64_t chunksize,
                     const std::string& func, size_t n, const TaskArgs& args,
                     int64_t first_index, bool packed) {
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
    std::string* packed_args = nullptr;
    std::string items;
    if (packed) {
      request->mutable_packed()->set_first_index(first_index + static_cast<int64_t>(i));
      packed_args = request->mutable_packed()->mutable_args();
    }
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
      size_t size = 0;
      if (packed) {
        const size_t before = packed_args->size();
        AppendPackedArgs(args, i, &items, packed_args);
        size = packed_args->size() - before;
      } else {
        v1::PoolTask* task = request->add_tasks();
        task->set_index(first_index + static_cast<int64_t>(i));
        args.Each(i, [&](const Value& arg) { EncodeArg(arg, task->add_args(), &keep_alive); });
        size = task->ByteSizeLong();
      }
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

// What a fetch got (pool.proto's ResultsReply, packed asked): the results
// that came each apart, and the values that came packed, still packed.
struct Fetched {
  std::vector<ResultIn> others;
  v1::PackedResults packed;
};

Fetched FetchResults(const PoolProxy& pool, uint64_t job, int64_t start, int64_t max,
                     bool unordered, Timeout timeout) {
  const AsyncTarget target = pool.target();
  v1::ResultsRequest request = RequestFor<v1::ResultsRequest>(target);
  request.set_job(job);
  request.set_start(start);
  request.set_max(max);
  request.set_unordered(unordered);
  request.set_packed(true);
  if (timeout.has_value()) request.set_timeout(std::max(0.0, timeout->count()));
  return Start(target, Results, request, KeepAlive(),
               [](ClientSession& session, v1::ResultsReply& reply) {
                 Fetched out;
                 out.others.reserve(static_cast<size_t>(reply.results_size()));
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
                   out.others.push_back(std::move(in));
                 }
                 out.packed.Swap(reply.mutable_packed());
                 return out;
               })
      .get();
}

// Calls take(index, value) for each packed value, in order. Packed values
// hold no object references (the server refuses them), so they decode
// without the session.
template <typename Take>
void Unpack(const v1::PackedResults& packed, Take take) {
  if (packed.values().empty()) return;
  const bool listed = packed.indexes_size() > 0;
  int count = 0;
  const bool read = ForEachRecord(packed.values(), [&](int i, absl::string_view bytes) {
    ++count;
    if (listed && i >= packed.indexes_size()) return;
    absl::StatusOr<Value> value = DecodePackedValue(bytes);
    if (!value.ok()) ThrowStatus(value.status());
    take(listed ? packed.indexes(i) : packed.first_index() + i, *std::move(value));
  });
  if (!read || (listed && count != packed.indexes_size())) {
    throw Error("Error", "the server sent malformed packed results");
  }
}

// Sends consecutive indexes as the first alone (pool.proto).
void CompactIndexes(v1::PackedResults* packed) {
  const auto& indexes = packed->indexes();
  if (indexes.empty()) return;
  for (int i = 1; i < indexes.size(); ++i) {
    if (indexes[i - 1] == std::numeric_limits<int64_t>::max() || indexes[i] != indexes[i - 1] + 1) {
      return;
    }
  }
  packed->set_first_index(indexes[0]);
  packed->clear_indexes();
}

// The arguments of a packed task (the value of its record, a list) into
// args.
absl::Status ArgsOf(absl::string_view value, Value::List& args) {
  args.clear();
  WireReader in(value);
  uint32_t number = 0, type = 0;
  absl::string_view list;
  if (in.Field(&number, &type, &list) && in.done() &&
      number == static_cast<uint32_t>(v1::Value::kListFieldNumber) &&
      type == kWireLengthDelimited) {
    absl::Status status;
    const bool read = ForEachRecord(list, [&](int, absl::string_view item) {
      if (!status.ok()) return;
      absl::StatusOr<Value> arg = DecodePackedValue(item);
      if (arg.ok()) {
        args.push_back(*std::move(arg));
      } else {
        status = arg.status();
      }
    });
    if (read) return status;
  }
  args.clear();
  absl::StatusOr<Value> whole = DecodePackedValue(value);
  if (!whole.ok()) return whole.status();
  if (!whole->is_list()) return absl::InvalidArgumentError("packed arguments are lists");
  args = whole->as_list();
  return absl::OkStatus();
}

// Runs one task: its value, or false and the error's kind and message.
bool RunTask(const PoolFunction& fn, const Value::List& args, Value* value, std::string* kind,
             std::string* message) {
  try {
    *value = fn(args);
    return true;
  } catch (const Error& e) {
    *kind = e.kind();
    *message = e.what();
  } catch (const std::exception& e) {
    *kind = "RuntimeError";
    *message = e.what();
  } catch (...) {
    *kind = "RuntimeError";
    *message = "the function threw something that is not a std::exception";
  }
  return false;
}

// A pull's reply: the tasks that came each apart (made values with the
// session's references), or the packed chunk as it came.
struct Pulled {
  bool closed = false;
  uint64_t job = 0;
  uint64_t chunk = 0;
  std::vector<TaskIn> tasks;
  v1::PackedChunk packed;
};

Pulled PulledOf(ClientSession& session, v1::PullReply& reply) {
  Pulled out;
  out.closed = reply.closed();
  if (reply.has_packed()) {
    out.packed.Swap(reply.mutable_packed());
    out.job = out.packed.job();
    out.chunk = out.packed.chunk();
    return out;
  }
  out.tasks.reserve(static_cast<size_t>(reply.tasks_size()));
  for (v1::PoolTask& t : *reply.mutable_tasks()) {
    out.job = t.job();
    out.chunk = t.chunk();
    TaskIn in;
    in.index = t.index();
    in.function = std::move(*t.mutable_function());
    Value::List args;
    args.reserve(static_cast<size_t>(t.args_size()));
    for (const v1::Value& arg : t.args()) args.push_back(session.Adopt(arg));
    in.args = Value(std::move(args));
    out.tasks.push_back(std::move(in));
  }
  return out;
}

// Pulls and runs tasks until the pool is closed and drained, or max_tasks
// (> 0) were run. Each pull carries the results of the one before: values of
// a packed chunk packed (those holding no object reference), the rest each
// apart.
void RunWorker(const PoolProxy& pool, const Functions& fns, int max_tasks) {
  const AsyncTarget target = pool.target();
  int64_t done = 0;
  v1::PullRequest request;
  KeepAlive keep_alive;
  // The packed values gathered, their records one after the other.
  std::string values;
  std::string scratch;
  // Sends the results gathered so far in a report of their own.
  auto report = [&]() {
    v1::ReportRequest out = RequestFor<v1::ReportRequest>(target);
    out.mutable_results()->Swap(request.mutable_results());
    if (!values.empty()) {
      request.mutable_packed_results()->set_values(std::move(values));
      values.clear();
    }
    if (request.has_packed_results()) {
      // The rest of the chunk's values go in the next message, for the same lease.
      CompactIndexes(request.mutable_packed_results());
      out.mutable_packed_results()->Swap(request.mutable_packed_results());
      request.mutable_packed_results()->set_job(out.packed_results().job());
      request.mutable_packed_results()->set_chunk(out.packed_results().chunk());
    }
    Start(target, Report, out, std::move(keep_alive), NoResult).get();
    keep_alive = KeepAlive();
  };
  size_t bytes = 0;
  Value value;
  std::string kind, message;
  // Runs task index of fn (function) and adds its result.
  auto run = [&](const Pulled& p, const PoolFunction* fn, const std::string& function,
                 int64_t index, const Value::List& args, bool packed,
                 const absl::Status& decoded) {
    bool ok = false;
    if (!decoded.ok()) {
      kind = "ValueError";
      message = std::string(decoded.message());
    } else if (fn == nullptr) {
      kind = "ValueError";
      message = absl::StrCat("no function '", function, "' is registered in this worker");
    } else {
      ok = RunTask(*fn, args, &value, &kind, &message);
    }
    ++done;
    bool sent = false;
    if (ok && packed && !value.contains_ref()) {
      scratch.clear();
      if (absl::Status encoded = AppendPackedValue(value, &scratch); encoded.ok()) {
        const size_t before = values.size();
        AppendRecord(scratch, &values);
        request.mutable_packed_results()->add_indexes(index);
        bytes += values.size() - before;
        sent = true;
      } else {
        // A value that cannot be sent fails its task.
        ok = false;
        kind = "ValueError";
        message = std::string(encoded.message());
      }
    }
    if (!sent) {
      v1::TaskResult* result = request.add_results();
      result->set_job(p.job);
      result->set_index(index);
      result->set_chunk(p.chunk);
      if (ok) {
        try {
          EncodeArg(value, result->mutable_value(), &keep_alive);
        } catch (const Error& e) {
          ok = false;
          kind = e.kind();
          message = e.what();
          result->clear_value();
        }
      }
      if (!ok) {
        result->mutable_error()->set_kind(kind);
        result->mutable_error()->set_message(message);
      }
      bytes += result->ByteSizeLong();
    }
    // Large results go ahead, so that no message grows past a frame.
    if (bytes > kBytesPerMessage) {
      report();
      bytes = 0;
    }
  };
  while (true) {
    request.set_id(target.handle->id());
    request.set_max(max_tasks > 0 ? max_tasks - done : 0);
    request.set_packed(true);
    Pulled p = Start(target, Pull, request, std::move(keep_alive), PulledOf).get();
    request.Clear();
    keep_alive = KeepAlive();
    bytes = 0;
    if (p.closed) return;
    if (!p.packed.args().empty()) {
      // Packed arguments hold no object references (the server refuses
      // them): they decode without the session.
      const bool listed = p.packed.indexes_size() > 0;
      std::vector<absl::string_view> records;
      records.reserve(static_cast<size_t>(p.packed.indexes_size()));
      if (!ForEachRecord(p.packed.args(), [&](int, absl::string_view r) { records.push_back(r); }) ||
          (listed && records.size() != static_cast<size_t>(p.packed.indexes_size()))) {
        throw Error("Error", "the server sent a malformed packed chunk");
      }
      request.mutable_packed_results()->set_job(p.job);
      request.mutable_packed_results()->set_chunk(p.chunk);
      const PoolFunction* fn = fns.find(p.packed.function());
      Value::List list;
      for (size_t i = 0; i < records.size(); ++i) {
        const absl::Status decoded = ArgsOf(records[i], list);
        run(p, fn, p.packed.function(),
            listed ? p.packed.indexes(static_cast<int>(i))
                   : p.packed.first_index() + static_cast<int64_t>(i),
            list, true, decoded);
      }
      if (!values.empty()) {
        request.mutable_packed_results()->set_values(std::move(values));
        CompactIndexes(request.mutable_packed_results());
        values.clear();
      } else {
        request.clear_packed_results();
      }
    } else {
      for (const TaskIn& task : p.tasks) {
        run(p, fns.find(task.function), task.function, task.index, task.args.as_list(), false,
            absl::OkStatus());
      }
    }
    if (max_tasks > 0 && done >= max_tasks) {
      report();
      return;
    }
  }
}

// Each item is the one argument of its task.
TaskArgs OneArgEach(const Value::List& items) { return TaskArgs{&items, nullptr, 0}; }

// Each list holds the arguments of its task.
TaskArgs ArgLists(const std::vector<Value::List>& args, size_t from = 0) {
  return TaskArgs{nullptr, &args, from};
}

// Whether no value of items (of args[from, to)) holds an object reference:
// whether they may go packed.
bool NoRefs(const Value::List& items) {
  return std::none_of(items.begin(), items.end(), [](const Value& v) { return v.contains_ref(); });
}

bool NoRefs(const std::vector<Value::List>& args, size_t from, size_t to) {
  for (size_t i = from; i < to; ++i) {
    if (!NoRefs(args[i])) return false;
  }
  return true;
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
  // The callbacks of the _async calls, run one after another on one thread
  // of the pool's, started with the first (as Python's result handler): each
  // waits for its call's result, then runs. Joined by join() and
  // terminate() once every queued callback has run.
  std::deque<std::function<void()>> callbacks;  // guarded by mu
  bool callbacks_end = false;                   // guarded by mu
  std::thread callback_runner;                  // started under mu

  // The callback thread's loop.
  void RunCallbacks() {
    for (;;) {
      std::function<void()> next;
      {
        std::unique_lock<std::mutex> lock(mu);
        changed.wait(lock, [this] { return !callbacks.empty() || callbacks_end; });
        if (callbacks.empty()) return;
        next = std::move(callbacks.front());
        callbacks.pop_front();
      }
      next();
    }
  }
  // Lets the callback thread finish what is queued, and waits for it
  // (unless this is that thread: a callback that joins its own pool; the
  // thread then ends once the callback returns and the queue is empty).
  void EndCallbacks() {
    std::thread runner;
    {
      std::lock_guard<std::mutex> lock(mu);
      callbacks_end = true;
      runner = std::move(callback_runner);
    }
    changed.notify_all();
    if (!runner.joinable()) return;
    if (runner.get_id() == std::this_thread::get_id()) {
      runner.detach();
    } else {
      runner.join();
    }
  }

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
  std::optional<Value> all;               // guarded by mu

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
      Fetched fetched;
      try {
        fetched = FetchResults(owner->pool, job, 0, 0, /*unordered=*/true, left);
      } catch (const TimeoutError&) {
        return false;
      }
      for (ResultIn& r : fetched.others) {
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
      Unpack(fetched.packed, [this](int64_t index, Value value) {
        const size_t at = static_cast<size_t>(index);
        if (at >= n || got[at]) return;
        got[at] = true;
        ++received;
        values[at] = std::move(value);
      });
    }
    return true;
  }

  // The list of results, moved out, or the error of the first failed
  // task; for map and starmap, whose AsyncResult no one else sees (and
  // which have no callbacks), so nothing asks for it again.
  Value::List TakeList() {
    Fetch(std::nullopt);
    std::lock_guard<std::mutex> lock(mu);
    if (!errors.empty()) std::rethrow_exception(ErrorOf(errors.begin()->second));
    return std::move(values);
  }

  // The result, or the error of the first failed task.
  Value Take() {
    std::lock_guard<std::mutex> lock(mu);
    if (!errors.empty()) std::rethrow_exception(ErrorOf(errors.begin()->second));
    if (single) return values[0];
    // Made once, from the values, which are not needed apart any more.
    if (!all.has_value()) all = Value(std::move(values));
    return *all;
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
    job = SubmitTasks(owner->pool, job, chunksize, func, until - from, ArgLists(args, from),
                      static_cast<int64_t>(from), NoRefs(args, from, until));
    // The submitted arguments are not needed here any more.
    for (size_t i = submitted; i < until; ++i) args[i] = Value::List();
    submitted = until;
  }

  std::optional<ResultIn> Next(Timeout timeout) {
    if (yielded >= args.size()) return std::nullopt;
    SubmitMore();
    if (ready.empty()) {
      Fetched got = FetchResults(owner->pool, job, static_cast<int64_t>(yielded), 0, unordered,
                                 timeout);
      for (ResultIn& r : got.others) ready.push_back(std::move(r));
      Unpack(got.packed, [this](int64_t index, Value value) {
        ResultIn r;
        r.index = index;
        r.value = std::move(value);
        ready.push_back(std::move(r));
      });
      // Results ascend by index within each form; in order, they merge.
      if (!unordered && !got.others.empty() && !got.packed.values().empty()) {
        std::stable_sort(ready.begin(), ready.end(),
                         [](const ResultIn& a, const ResultIn& b) { return a.index < b.index; });
      }
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
  {
    std::lock_guard<std::mutex> lock(pool.mu);
    pool.callbacks.emplace_back([state, callback = std::move(callback),
                                 error_callback = std::move(error_callback)] {
      try {
        state->Fetch(std::nullopt);
        Value v = state->Take();
        if (callback) callback(v);
      } catch (...) {
        if (error_callback) error_callback(std::current_exception());
      }
    });
    if (!pool.callback_runner.joinable() && !pool.callbacks_end) {
      // The thread holds the pool's state, for a callback that outlives the
      // Pool by detaching it (see EndCallbacks).
      pool.callback_runner = std::thread([owner = state->owner] { owner->RunCallbacks(); });
    }
  }
  pool.changed.notify_all();
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
  state->job = detail::SubmitTasks(state_->pool, 0, 1, func, 1, detail::ArgLists(one), 0,
                                   detail::NoRefs(one, 0, 1));
  AddCallbacks(*state_, state, std::move(callback), std::move(error_callback));
  return AsyncResult(std::move(state));
}

AsyncResult Pool::starmap_async(const std::string& func, const std::vector<Value::List>& args,
                                int chunksize, Callback callback, ErrorCallback error_callback) {
  return MapAsync(func, args.size(), detail::ArgLists(args), detail::NoRefs(args, 0, args.size()),
                  chunksize, std::move(callback), std::move(error_callback));
}

AsyncResult Pool::MapAsync(const std::string& func, size_t n,
                           const detail::TaskArgs& args, bool packed, int chunksize, Callback callback, ErrorCallback error_callback) {
  if (chunksize <= 0) chunksize = state_->options.chunksize;
  const int workers = state_->processes > 0 ? state_->processes : 4;
  const int64_t chunk = chunksize > 0 ? chunksize : DefaultChunksize(n, workers);
  auto state = std::make_shared<detail::AsyncState>();
  state->owner = state_;
  state->Resize(n);
  if (n > 0) {
    state->job = detail::SubmitTasks(state_->pool, 0, chunk, func, n, args, 0, packed);
  }
  AddCallbacks(*state_, state, std::move(callback), std::move(error_callback));
  return AsyncResult(std::move(state));
}

AsyncResult Pool::map_async(const std::string& func, const Value::List& items, int chunksize,
                            Callback callback, ErrorCallback error_callback) {
  return MapAsync(func, items.size(), detail::OneArgEach(items), detail::NoRefs(items),
                  chunksize, std::move(callback), std::move(error_callback));
}

Value::List Pool::map(const std::string& func, const Value::List& items, int chunksize) {
  return map_async(func, items, chunksize).state_->TakeList();
}

Value::List Pool::starmap(const std::string& func, const std::vector<Value::List>& args,
                          int chunksize) {
  return starmap_async(func, args, chunksize).state_->TakeList();
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
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    workers.swap(state_->workers);
    state_->joined = true;
  }
  for (auto& w : workers) {
    if (w == nullptr) continue;
    w->terminate();
    w->join();
  }
  state_->EndCallbacks();
}

void Pool::join() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->joined) return;
    if (!state_->closed) throw ValueError("Pool is still running");
  }
  if (state_->supervisor.joinable()) state_->supervisor.join();
  std::vector<std::unique_ptr<Process>> workers;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    workers.swap(state_->workers);
    state_->joined = true;
  }
  for (auto& w : workers) {
    if (w != nullptr) w->join();
  }
  state_->EndCallbacks();
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
