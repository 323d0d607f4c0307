// The worker side of shoal-soak: one process, several sessions, each a thread
// of its own with its own Manager, doing a random mix of operations on every
// kind of shared object and reporting what the invariants need (soak.h).
#include <errno.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "shoal/shoal.h"
#include "soak/soak.h"

namespace shoal::soak {

const char* OpKindName(int kind) {
  static const char* const kNames[kOpKinds] = {
      "list",      "dict",  "Namespace", "Value",         "Lock",
      "RLock",     "Semaphore", "BoundedSemaphore", "Condition", "Event",
      "Barrier",   "Queue", "JoinableQueue", "nested refs", "Manager"};
  return kind >= 0 && kind < kOpKinds ? kNames[kind] : "?";
}

Names::Names(const std::string& prefix)
    : list(prefix + ".list"),
      dict(prefix + ".dict"),
      ns(prefix + ".ns"),
      counter(prefix + ".counter"),
      cas(prefix + ".cas"),
      lock(prefix + ".lock"),
      lock_count(prefix + ".lock_count"),
      rlock(prefix + ".rlock"),
      rlock_count(prefix + ".rlock_count"),
      semaphore(prefix + ".semaphore"),
      bounded(prefix + ".bounded"),
      condition(prefix + ".condition"),
      condition_count(prefix + ".condition_count"),
      event(prefix + ".event"),
      barrier(prefix + ".barrier"),
      queue(prefix + ".queue"),
      joinable(prefix + ".joinable"),
      nested(prefix + ".nested") {}

namespace {

using namespace std::chrono_literals;

// Proxies on every shared object, made get-or-create by name.
struct Objects {
  Objects(const Manager& m, const Names& n)
      : list(m.list(n.list)),
        dict(m.dict(n.dict)),
        ns(m.Namespace(n.ns)),
        counter(m.Value("q", shoal::Value(0), n.counter)),
        cas(m.Value("q", shoal::Value(0), n.cas)),
        lock(m.Lock(n.lock)),
        lock_count(m.Value("q", shoal::Value(0), n.lock_count)),
        rlock(m.RLock(n.rlock)),
        rlock_count(m.Value("q", shoal::Value(0), n.rlock_count)),
        semaphore(m.Semaphore(kSemaphoreValue, n.semaphore, PoolSemaphore())),
        bounded(m.BoundedSemaphore(kBoundedSemaphoreValue, n.bounded, PoolSemaphore())),
        condition(m.Condition(n.condition)),
        condition_count(m.Value("q", shoal::Value(0), n.condition_count)),
        event(m.Event(n.event)),
        barrier(m.Barrier(kBarrierParties, std::nullopt, n.barrier)),
        queue(m.Queue(kQueueMaxsize, n.queue)),
        joinable(m.JoinableQueue(kQueueMaxsize, n.joinable)),
        nested(m.dict(n.nested)) {}

  ListProxy list;
  DictProxy dict;
  NamespaceProxy ns;
  ValueProxy counter, cas;
  LockProxy lock;
  ValueProxy lock_count;
  RLockProxy rlock;
  ValueProxy rlock_count;
  SemaphoreProxy semaphore, bounded;
  ConditionProxy condition;
  ValueProxy condition_count;
  EventProxy event;
  BarrierProxy barrier;
  QueueProxy queue, joinable;
  DictProxy nested;
};

std::atomic<bool> stop{false};

// Writes one line to the parent. A line is far below PIPE_BUF, so the
// sessions' lines never interleave, and a kill leaves either all of a line
// or none of it.
void Emit(std::string line) {
  for (char& c : line) {
    if (c == '\n') c = ' ';
  }
  line.push_back('\n');
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = write(STDOUT_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(3);  // the parent is gone
    p += n;
    left -= static_cast<size_t>(n);
  }
}

class Session {
 public:
  Session(const WorkerOptions& options, const Names& names, int index)
      : options_(options),
        names_(names),
        index_(index),
        rng_(options.seed * 1000003u + options.id * 131u + static_cast<uint64_t>(index)),
        tag_(std::to_string(options.id) + " " + std::to_string(index)),
        key_("w" + std::to_string(options.id) + "_s" + std::to_string(index)) {}

  void Run() {
    ConnectOptions connect;
    connect.client_name = "soak " + key_;
    connect.timeout = 60s;
    if (options_.transport == "grpc" || (options_.transport == "mixed" && index_ % 2 == 1)) {
      connect.transport = Transport::kGrpcStream;
    } else {
      connect.transport = Transport::kFramed;
    }
    connect_ = connect;
    try {
      Connect();
    } catch (const std::exception& e) {
      Emit(std::string("E connect: ") + e.what());
      return;
    }
    last_flush_ = std::chrono::steady_clock::now();
    while (!stop.load(std::memory_order_relaxed)) {
      const int kind = static_cast<int>(rng_() % kOpKinds);
      try {
        Op(kind);
      } catch (const ConnectionError& e) {
        Emit(std::string("E ") + OpKindName(kind) + ": ConnectionError: " + e.what());
        break;
      } catch (const Error& e) {
        Emit(std::string("E ") + OpKindName(kind) + ": " + e.kind() + ": " + e.what());
      } catch (const std::exception& e) {
        Emit(std::string("E ") + OpKindName(kind) + ": " + e.what());
      }
      Flush(false);
    }
    try {
      Disconnect();
    } catch (const std::exception& e) {
      Emit(std::string("E cleanup: ") + e.what());
    }
    Flush(true);
  }

 private:
  void Connect() {
    m_ = Manager::connect(options_.address, AuthKey::from_file(options_.authkey_file), connect_);
    objects_.emplace(m_, names_);
    Emit("U");
  }

  // A clean end leaves nothing of this session's behind: its entries are
  // deleted, and close() gives back what it holds.
  void Disconnect() {
    if (dict_set_) objects_->dict.del(key_);
    if (ns_set_) objects_->ns.del(key_);
    if (nested_set_) objects_->nested.del(key_);
    dict_set_ = ns_set_ = nested_set_ = false;
    objects_.reset();
    m_.close();
  }

  // Ends the session and starts another; sometimes while holding the Lock,
  // which the close must give back.
  void Reconnect(bool holding) {
    if (holding && objects_->lock.acquire(true, 300ms)) last_token_ = objects_->lock.fencing_token();
    Disconnect();
    Connect();
  }

  void Op(int kind) {
    Objects& o = *objects_;
    const uint64_t r = rng_();
    switch (kind) {
      case kOpList: ListOp(o.list, r); break;
      case kOpDict: DictOp(o.dict, r); break;
      case kOpNamespace: NamespaceOp(o.ns, r); break;
      case kOpValue: ValueOp(o, r); break;
      case kOpLock: LockOp(o); break;
      case kOpRLock: RLockOp(o); break;
      case kOpSemaphore: SemaphoreOp(o.semaphore, kSemaphoreValue); break;
      case kOpBoundedSemaphore: SemaphoreOp(o.bounded, kBoundedSemaphoreValue); break;
      case kOpCondition: ConditionOp(o, r); break;
      case kOpEvent: EventOp(o.event, r); break;
      case kOpBarrier: BarrierOp(o.barrier); break;
      case kOpQueue: QueueOp(o.queue, 'q', r); break;
      case kOpJoinableQueue: QueueOp(o.joinable, 'j', r); break;
      case kOpNested: NestedOp(o.nested, r); break;
      case kOpManager:
        if (r % 64 == 5) {
          Reconnect(r % 128 == 5);
        } else {
          ManagerOp(r);
        }
        break;
    }
    ++counts_[kind];
  }

  void Violation(const std::string& what) { Emit("X " + key_ + ": " + what); }

  void ListOp(ListProxy& list, uint64_t r) {
    const int64_t item = static_cast<int64_t>(r % 1000);
    switch (r % 8) {
      case 0: list.append(item); break;
      case 1: list.extend({item, "x", 2.5}); break;
      case 2:
        try {
          list.pop();
        } catch (const IndexError&) {
        }
        break;
      case 3: list.len(); break;
      case 4: list.slice(0, 8); break;
      case 5: list.insert(0, item); break;
      case 6: {
        // Pipelined: three calls in flight at once on the session.
        ListProxy::Async a = list.async();
        Future<void> appended = a.append(item);
        Future<size_t> len = a.len();
        Future<size_t> count = a.count(item);
        appended.get();
        if (len.get() == 0) Violation("list empty right after an append");
        count.get();
        break;
      }
      default:
        if (list.len() > 256) {
          list.del_slice(0, 128);
        } else {
          list.count(item);
        }
    }
  }

  void DictOp(DictProxy& dict, uint64_t r) {
    switch (r % 6) {
      case 0:
      case 1: {
        dict.set(key_, ++seq_);
        dict_set_ = true;
        const shoal::Value got = dict.get(key_);
        if (!got.is_int() || got.as_int() != seq_) {
          Violation("dict read " + got.repr() + " after setting " + std::to_string(seq_));
        }
        break;
      }
      case 2:
        if (dict.contains(key_) != dict_set_) Violation("dict contains() wrong for own key");
        break;
      case 3: dict.len(); break;
      case 4: dict.setdefault("shared", 0); break;
      default: {
        DictProxy::Async a = dict.async();
        Future<void> set = a.set(key_, ++seq_);
        Future<shoal::Value> got = a.item(key_);
        set.get();
        dict_set_ = true;
        const shoal::Value v = got.get();
        if (!v.is_int() || v.as_int() != seq_) Violation("pipelined dict read " + v.repr());
        if (!a.pop("absent " + key_, shoal::Value()).get().is_none()) {
          Violation("pop of an absent key returned a value");
        }
      }
    }
  }

  void NamespaceOp(NamespaceProxy& ns, uint64_t r) {
    if (r % 16 == 0) {
      ns.attrs();
      return;
    }
    if (r % 4 == 1 && ns_set_) {
      ns.del(key_);
      ns_set_ = false;
      try {
        ns.get(key_);
        Violation("Namespace attribute still there after del");
      } catch (const AttributeError&) {
      }
      return;
    }
    ns.set(key_, ++seq_);
    ns_set_ = true;
    const shoal::Value got = ns.get(key_);
    if (!got.is_int() || got.as_int() != seq_) {
      Violation("Namespace read " + got.repr() + " after setting " + std::to_string(seq_));
    }
  }

  void ValueOp(Objects& o, uint64_t r) {
    switch (r % 4) {
      case 0:
      case 1: Emit("C " + std::to_string(o.counter.add(1).as_int())); break;
      case 2: {
        shoal::Value current = o.cas.get();
        for (int tries = 0; tries < 50; ++tries) {
          const int64_t next = current.as_int() + 1;
          if (o.cas.compare_and_swap(current, next, &current)) {
            Emit("S " + std::to_string(next));
            break;
          }
        }
        break;
      }
      default: o.counter.get();
    }
  }

  // A get and a set under the lock: were two sessions ever inside at once,
  // two of them would report the same new value.
  void Increment(ValueProxy& value, char report) {
    const int64_t next = value.get().as_int() + 1;
    value.set(next);
    Emit(std::string(1, report) + " " + std::to_string(next));
  }

  void LockOp(Objects& o) {
    if (!o.lock.acquire(true, 300ms)) {
      o.lock.locked();
      return;
    }
    const int64_t token = o.lock.fencing_token();
    if (token <= last_token_) {
      Violation("fencing token " + std::to_string(token) + " after " + std::to_string(last_token_));
    }
    last_token_ = token;
    Increment(o.lock_count, 'L');
    o.lock.release();
  }

  void RLockOp(Objects& o) {
    if (!o.rlock.acquire(true, 300ms)) return;
    const bool again = o.rlock.acquire(false);
    if (!again) Violation("RLock not re-entered by its holder");
    Increment(o.rlock_count, 'R');
    if (again) o.rlock.release();
    o.rlock.release();
  }

  void SemaphoreOp(SemaphoreProxy& semaphore, int64_t initial) {
    if (!semaphore.acquire(true, 300ms)) return;
    const int64_t free = semaphore.value();
    if (free < 0 || free > initial - 1) {
      Violation(std::string(semaphore.bounded() ? "Bounded" : "") + "Semaphore has " +
                std::to_string(free) + " free while one is held");
    }
    semaphore.release();
  }

  void ConditionOp(Objects& o, uint64_t r) {
    if (!o.condition.acquire(true, 300ms)) return;
    if (r % 2 == 0) {
      Increment(o.condition_count, 'D');
      o.condition.notify_all();
    } else {
      o.condition.wait(150ms);  // holds the lock again however it ends
    }
    o.condition.release();
  }

  void EventOp(EventProxy& event, uint64_t r) {
    switch (r % 4) {
      case 0: event.set(); break;
      case 1: event.clear(); break;
      case 2: event.wait(100ms); break;
      default: event.is_set();
    }
  }

  void BarrierOp(BarrierProxy& barrier) {
    try {
      const int64_t index = barrier.wait(300ms);
      if (index < 0 || index >= kBarrierParties) {
        Violation("barrier index " + std::to_string(index));
      }
    } catch (const BrokenBarrierError&) {
      if (barrier.broken()) barrier.reset();
    }
  }

  void QueueOp(QueueProxy& queue, char tag, uint64_t r) {
    const std::string q(1, tag);
    if (r % 8 == 7) {
      queue.qsize();
      if (tag == 'j') queue.join(0ms);
      return;
    }
    if (r % 2 == 0) {
      const std::string item = q + " " + tag_ + " " + std::to_string(++item_seq_);
      Emit("A " + item);
      try {
        queue.put(shoal::Value::list({static_cast<int64_t>(options_.id), index_, item_seq_}), true,
                  200ms);
        Emit("P " + item);
      } catch (const Full&) {
        Emit("F " + item);
      }
      return;
    }
    shoal::Value got;
    try {
      got = queue.get(true, 200ms);
    } catch (const Empty&) {
      return;
    }
    const shoal::Value::List& fields = got.as_list();
    if (fields.size() != 3) {
      Violation("queue item " + got.repr());
      return;
    }
    Emit("G " + q + " " + std::to_string(fields[0].as_int()) + " " +
         std::to_string(fields[1].as_int()) + " " + std::to_string(fields[2].as_int()));
    if (tag == 'j') queue.task_done();
  }

  // Anonymous objects that only a named dict refers to: each overwrite frees
  // the one before, and a killed session's own are freed when it ends.
  void NestedOp(DictProxy& nested, uint64_t r) {
    switch (r % 3) {
      case 0:
        nested.set(key_, m_.list({1, 2, 3}));
        nested_set_ = true;
        break;
      case 1:
        nested.set(key_, m_.dict({{"a", 1}}));
        nested_set_ = true;
        break;
      default: {
        if (!nested_set_) return;
        const shoal::Value v = nested.get(key_);
        if (!v.is_ref()) {
          Violation("nested entry is " + v.repr());
        } else if (v.as_ref().kind == Kind::kList) {
          if (ListProxy(v).len() != 3) Violation("nested list changed");
        } else if (DictProxy(v).len() != 1) {
          Violation("nested dict changed");
        }
      }
    }
  }

  void ManagerOp(uint64_t r) {
    switch (r % 4) {
      case 0: m_.object_count(); break;
      case 1: m_.describe(names_.lock); break;
      case 2: m_.describe(names_.queue); break;
      default:
        if (r % 16 == 3) m_.sessions();
    }
  }

  // Sends the operation counts every quarter second, and at the end.
  void Flush(bool last) {
    const auto now = std::chrono::steady_clock::now();
    if (!last && now - last_flush_ < 250ms) return;
    last_flush_ = now;
    std::string line = "N";
    for (int64_t& count : counts_) {
      line += " " + std::to_string(count);
      count = 0;
    }
    Emit(line);
  }

  const WorkerOptions& options_;
  const Names& names_;
  const int index_;
  std::mt19937_64 rng_;
  // "WORKER SESSION", as the queue lines name the producer.
  const std::string tag_;
  // This session's own dict key, Namespace attribute and nested entry.
  const std::string key_;
  ConnectOptions connect_;
  Manager m_;
  std::optional<Objects> objects_;
  int64_t seq_ = 0;
  int64_t item_seq_ = 0;
  int64_t last_token_ = 0;
  bool dict_set_ = false, ns_set_ = false, nested_set_ = false;
  std::array<int64_t, kOpKinds> counts_{};
  std::chrono::steady_clock::time_point last_flush_;
};

}  // namespace

void CreateObjects(const Manager& m, const Names& names) { Objects objects(m, names); }

int RunWorker(const WorkerOptions& options) {
  const Names names(options.prefix);
  std::vector<std::thread> threads;
  for (int i = 0; i < options.sessions; ++i) {
    threads.emplace_back([&options, &names, i] { Session(options, names, i).Run(); });
  }
  // The parent closes our standard input to stop us cleanly.
  char buffer[64];
  for (;;) {
    const ssize_t n = read(STDIN_FILENO, buffer, sizeof buffer);
    if (n > 0 || (n < 0 && errno == EINTR)) continue;
    break;
  }
  stop.store(true);
  for (std::thread& t : threads) t.join();
  return 0;
}

}  // namespace shoal::soak
