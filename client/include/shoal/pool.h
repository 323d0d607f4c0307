// Pool is a pool of worker processes, after Python's multiprocessing.Pool,
// whose workers may run on this host or any other, and which never loses a
// task:
//
//   shoal::Functions fns;
//   fns.add("square", [](const shoal::Value::List& args) {
//     return shoal::Value(args[0].as_int() * args[0].as_int());
//   });
//   shoal::Pool pool(m, fns, {.processes = 4});   // 4 local workers, forked
//   shoal::Value nine = pool.apply("square", {3});
//   shoal::Value::List squares = pool.map("square", inputs);
//   for (shoal::Value v : pool.imap("square", inputs)) { ... }
//   pool.close();
//   pool.join();
//
// C++ cannot ship closures, so functions are registered by name in a
// Functions table, and a worker runs the function a task names. The tasks
// live on the server (a Pool object, pool.proto) in chunks (a map's
// chunksize); workers pull a chunk at a time. A chunk a worker pulled is
// leased to the worker's session: when the worker dies (its process was
// killed, its host vanished) the chunk's tasks not yet reported go back to
// the pool and run on another worker, up to PoolOptions::max_retries times,
// after which those tasks alone fail with WorkerLost. Python's Pool, by
// contrast, waits for ever for the result of a task whose worker died.
//
// A named pool (PoolOptions::name) can be served by workers in other
// programs, on any host: shoal::serve_pool(m, "name", fns) in each.
//
// A function that throws fails its task alone: get(), map() and an imap's
// iterator throw the same shoal error type when it was one (KeyError, ...),
// and RuntimeError with its message otherwise. A task naming a function
// the worker does not have fails with ValueError.
//
// A task may run more than once (its worker died after running it, before
// reporting), so functions should be safe to repeat; each task still has
// exactly one result.
//
// Thread-safety: a Pool may be used from several threads at once (as
// Python's, apart from close/join/terminate, which one thread calls). An
// AsyncResult and an iterator from imap may be used from any thread, one at
// a time.
#ifndef SHOAL_POOL_H_
#define SHOAL_POOL_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/acquirer_proxy.h"
#include "shoal/manager.h"
#include "shoal/value.h"

namespace shoal {

// A function a pool's workers run: it takes the task's arguments and returns
// its result; what it throws fails the task.
using PoolFunction = std::function<Value(const Value::List& args)>;

// Functions by name, for the workers of a pool.
class Functions {
 public:
  // Registers fn under name (replacing one of the same name); returns *this.
  Functions& add(std::string name, PoolFunction fn);
  // The function called name, or null.
  const PoolFunction* find(const std::string& name) const;
  bool contains(const std::string& name) const { return find(name) != nullptr; }
  size_t size() const { return fns_.size(); }

 private:
  std::map<std::string, PoolFunction, std::less<>> fns_;
};

struct PoolOptions {
  // Local workers, forked from this process (shoal::Process), each serving
  // the pool's Functions (they end with the process that owns the pool); std::nullopt for as many as there are CPUs, 0 for
  // none (the workers are other programs, see serve_pool).
  std::optional<int> processes;
  // A named pool, which other programs serve by name (serve_pool); empty for
  // an anonymous one. A named pool is get-or-create: whoever makes it first
  // sets its max_retries.
  std::string name;
  // How many times a task goes back to the pool when its worker is lost,
  // before it fails with WorkerLost.
  int max_retries = 3;
  // A local worker leaves after this many tasks and a fresh one takes its
  // place; 0 for never (Python's maxtasksperchild=None).
  int maxtasksperchild = 0;
  // Runs at the start of each local worker.
  std::function<void()> initializer;
  // How many tasks of a map a worker takes at once; 0 for Python's default
  // (the tasks divided by four times the workers, rounded up).
  int chunksize = 0;
  // imap, imap_unordered: how many tasks may be in flight (submitted, their
  // results not yet taken), so that a long input does not flood the server;
  // 0 for no bound. Tasks go in whole chunks: one chunk at a time when
  // buffersize is under the chunksize.
  int buffersize = 0;
};

namespace detail {
struct PoolState;
struct AsyncState;
struct ImapState;
struct TaskArgs;
}  // namespace detail

// The result of apply_async, map_async or starmap_async, as Python's
// AsyncResult.
class AsyncResult {
 public:
  // The result (for map_async and starmap_async, a list in input order), or
  // the task's error rethrown (for a map, the first failed task's).
  // TimeoutError when it is not ready within timeout (std::nullopt: wait as
  // long as it takes).
  Value get(Timeout timeout = std::nullopt);
  // Waits until ready or the timeout passed.
  void wait(Timeout timeout = std::nullopt);
  bool ready();
  // Whether it completed without error; ValueError when not ready yet.
  bool successful();

 private:
  friend class Pool;
  explicit AsyncResult(std::shared_ptr<detail::AsyncState> state) : state_(std::move(state)) {}
  std::shared_ptr<detail::AsyncState> state_;
};

// The results of imap or imap_unordered, to iterate once:
//   for (shoal::Value v : pool.imap("square", inputs)) ...
// Dereferencing throws the task's error at its place.
class ResultIterator {
 public:
  class iterator {
   public:
    using value_type = Value;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::input_iterator_tag;
    using pointer = const Value*;
    using reference = Value;
    Value operator*() const;
    iterator& operator++();
    bool operator==(const iterator& other) const;
    bool operator!=(const iterator& other) const { return !(*this == other); }

   private:
    friend class ResultIterator;
    explicit iterator(detail::ImapState* state) : state_(state) {}
    detail::ImapState* state_ = nullptr;
  };
  iterator begin();
  iterator end() { return iterator(nullptr); }
  // The next result, std::nullopt after the last; throws its error.
  std::optional<Value> next(Timeout timeout = std::nullopt);

 private:
  friend class Pool;
  explicit ResultIterator(std::shared_ptr<detail::ImapState> state) : state_(std::move(state)) {}
  std::shared_ptr<detail::ImapState> state_;
};

class Pool {
 public:
  using Callback = std::function<void(const Value& result)>;
  using ErrorCallback = std::function<void(std::exception_ptr error)>;

  // Makes the pool on the server (or, for a name, finds it) and starts the
  // local workers, which serve fns.
  Pool(const Manager& manager, const Functions& fns, PoolOptions options = {});
  // terminate(), unless join() already returned.
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // pool.apply(func, args): runs it on a worker and returns its result.
  Value apply(const std::string& func, Value::List args = {});
  AsyncResult apply_async(const std::string& func, Value::List args = {},
                          Callback callback = nullptr, ErrorCallback error_callback = nullptr);
  // func(item) for each item, results in input order.
  Value::List map(const std::string& func, const Value::List& items, int chunksize = 0);
  AsyncResult map_async(const std::string& func, const Value::List& items, int chunksize = 0,
                        Callback callback = nullptr, ErrorCallback error_callback = nullptr);
  // func(*args) for each list of arguments.
  Value::List starmap(const std::string& func, const std::vector<Value::List>& args,
                      int chunksize = 0);
  AsyncResult starmap_async(const std::string& func, const std::vector<Value::List>& args,
                            int chunksize = 0, Callback callback = nullptr,
                            ErrorCallback error_callback = nullptr);
  // Results as they come: in order, or in the order they complete. chunksize
  // is 1 by default, as Python's.
  ResultIterator imap(const std::string& func, const Value::List& items, int chunksize = 1);
  ResultIterator imap_unordered(const std::string& func, const Value::List& items,
                                int chunksize = 1);

  // No more tasks; the workers leave once every task is done.
  void close();
  // Waits for the local workers to leave (and for callbacks to run).
  // ValueError before close() or terminate(), as Python's.
  void join();
  // Fails the tasks not done (RuntimeError), ends the workers' pulls, and
  // stops the local workers at once.
  void terminate();
  // The process ids of the local workers now running.
  std::vector<pid_t> pids() const;
  // The server object's token (see ObjectProxy::token).
  std::string token() const;

 private:
  // map_async and starmap_async: n tasks, of the arguments args gives;
  // packed when none holds an object reference.
  AsyncResult MapAsync(const std::string& func, size_t n, const detail::TaskArgs& args,
                       bool packed, int chunksize, Callback callback,
                       ErrorCallback error_callback);

  std::shared_ptr<detail::PoolState> state_;
};

// Serves the pool called name with fns, in this process, until the pool is
// closed and drained or terminated (then returns). max_tasks > 0 returns
// after that many tasks. Throws ConnectionError when the session is lost.
void serve_pool(const Manager& manager, std::string_view name, const Functions& fns,
                int max_tasks = 0);

}  // namespace shoal

#endif  // SHOAL_POOL_H_
