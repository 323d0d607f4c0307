// shoal_bench: the shoal side of the benchmark suite (bench/suite.py runs it,
// one process per simulated worker). Modes:
//
//   shoal_bench client ADDRESS KEYFILE INDEX CLIENTS
//       one client of a cell, driven over stdin/stdout (see bench_client.h)
//   shoal_bench waiters ADDRESS KEYFILE EVENT COUNT
//       connects and prints "connected"; on "park", parks COUNT calls in
//       wait() on the Event named EVENT, prints "issued" once they are sent,
//       then one JSON line when all have returned
//   shoal_bench waker ADDRESS KEYFILE EVENT TOTAL
//       prints "parked" once TOTAL calls wait on EVENT (as the server counts
//       them), then on "go" sets it and prints the time it did
//   shoal_bench wakeup ADDRESS KEYFILE TRIALS
//       the wake-up latency of one parked get(): from the put to the return
//       of the get, measured TRIALS times
//   shoal_bench scale ADDRESS KEYFILE HELD SECONDS
//       makes HELD anonymous lists on one session and prints "held"; on "go",
//       measures the latency of Value.add on another session for SECONDS,
//       quiet, then for SECONDS while a third session makes and drops lists,
//       then 200 Describes of one object, and prints one JSON line
//   shoal_bench hold ADDRESS KEYFILE COUNT [KIND]
//       makes COUNT anonymous empty objects of KIND (list, the default;
//       dict; Queue), prints "held", waits for "quit"
//   shoal_bench sessions ADDRESS KEYFILE COUNT THREADS SECONDS
//       opens COUNT sessions (a Manager, a connection and a Value each) and
//       prints "connected"; on "go", THREADS threads call Value.add round
//       robin over the sessions, so that every session is active, for
//       SECONDS, and it prints one JSON line; then waits for "quit"
//
// Every client uses the public client library only.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include "bench_client.h"
#include "shoal/shoal.h"

namespace {

using namespace std::chrono_literals;

// How long any one call of a workload may block before the client gives up:
// the driver's own deadlines are longer, so a stuck cell fails loudly.
constexpr auto kCallTimeout = 30s;

struct Target {
  std::string address;
  shoal::AuthKey key;
};

shoal::Manager Connect(const Target& target) {
  shoal::ConnectOptions options;
  options.timeout = std::chrono::milliseconds(60000);
  return shoal::Manager::connect(target.address, target.key, options);
}

// ---- the workloads of a cell ----

class ListAppend : public bench::Workload {
 public:
  ListAppend(const shoal::Manager& m, const std::string& prefix) : list_(m.list(prefix + ".list")) {}
  bool Op(int64_t i) override {
    list_.append(i);
    return true;
  }

 private:
  shoal::ListProxy list_;
};

class DictSet : public bench::Workload {
 public:
  DictSet(const shoal::Manager& m, const std::string& prefix) : dict_(m.dict(prefix + ".dict")) {
    for (const std::string& k : bench::DictKeys()) keys_.emplace_back(k);
  }
  bool Op(int64_t i) override {
    dict_.set(keys_[i % keys_.size()], i);
    return true;
  }

 protected:
  shoal::DictProxy dict_;
  std::vector<shoal::Value> keys_;
};

class DictGet : public DictSet {
 public:
  DictGet(const shoal::Manager& m, const std::string& prefix, bool fill) : DictSet(m, prefix) {
    if (fill) {
      for (size_t i = 0; i < keys_.size(); ++i) dict_.set(keys_[i], static_cast<int64_t>(i));
    }
  }
  bool Op(int64_t i) override {
    dict_.get(keys_[i % keys_.size()]);
    return true;
  }
};

class ValueAdd : public bench::Workload {
 public:
  ValueAdd(const shoal::Manager& m, const std::string& prefix)
      : value_(m.Value("q", 0, prefix + ".value")) {}
  bool Op(int64_t) override {
    value_.add(1);
    return true;
  }

 private:
  shoal::ValueProxy value_;
};

class LockCycle : public bench::Workload {
 public:
  LockCycle(const shoal::Manager& m, const std::string& prefix) : lock_(m.Lock(prefix + ".lock")) {}
  bool Op(int64_t) override {
    if (!lock_.acquire(true, kCallTimeout)) throw std::runtime_error("lock acquire timed out");
    lock_.release();
    return true;
  }

 private:
  shoal::LockProxy lock_;
};

class QueueCycle : public bench::Workload {
 public:
  QueueCycle(const shoal::Manager& m, const std::string& prefix)
      : queue_(m.Queue(0, prefix + ".queue")) {}
  bool Op(int64_t i) override {
    queue_.put(i);
    queue_.get(true, kCallTimeout);
    return true;
  }

 private:
  shoal::QueueProxy queue_;
};

// Event set-then-wait round trip, with two Events A and B of this client and
// a partner thread that has its own Manager (its own session and stream).
//   client:  set A; wait B; clear B        (one operation)
//   partner: wait A; clear A; set B        (in a loop)
// No wake-up is lost and none is stale: the client clears B before it sets A
// again, and the partner sets B only after it has seen A set; the partner
// clears A before it sets B, and the client sets A again only after it has
// seen B. Each operation is two wake-ups of a parked wait, each by a set
// from another session, and three calls on each side.
class EventRoundTrip : public bench::Workload {
 public:
  EventRoundTrip(const Target& target, const shoal::Manager& m, const std::string& prefix)
      : a_(m.Event(prefix + ".a")), b_(m.Event(prefix + ".b")) {
    // The partner's own session, and its proxies, made before "ready".
    shoal::Manager own = Connect(target);
    partner_ = std::thread([this, a = own.Event(prefix + ".a"), b = own.Event(prefix + ".b")]() mutable {
      try {
        for (;;) {
          if (!a.wait(kCallTimeout)) throw std::runtime_error("partner: wait on A timed out");
          if (stop_.load()) return;
          a.clear();
          b.set();
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "shoal_bench: event partner: %s\n", e.what());
        std::exit(1);
      }
    });
  }
  ~EventRoundTrip() override { Finish(); }
  bool Op(int64_t) override {
    a_.set();
    if (!b_.wait(kCallTimeout)) throw std::runtime_error("wait on B timed out");
    b_.clear();
    return true;
  }
  void Finish() override {
    if (!partner_.joinable()) return;
    stop_.store(true);
    a_.set();
    partner_.join();
  }

 private:
  shoal::EventProxy a_, b_;
  std::atomic<bool> stop_{false};
  std::thread partner_;
};

// Barrier wait: the clients of a cell form groups of min(8, clients) parties,
// each group on its own Barrier; an operation is one wait. The first client
// of a group to stop aborts the barrier, which ends the others' waits.
class BarrierWait : public bench::Workload {
 public:
  BarrierWait(const shoal::Manager& m, const std::string& prefix, int index, int clients)
      : barrier_(m.Barrier(std::min(8, clients), std::nullopt,
                           prefix + ".barrier" + std::to_string(index / std::min(8, clients)))) {}
  bool Op(int64_t) override {
    try {
      barrier_.wait(std::chrono::duration<double>(kCallTimeout));
      return true;
    } catch (const shoal::BrokenBarrierError&) {
      return false;
    }
  }
  void Finish() override { barrier_.abort(); }

 private:
  shoal::BarrierProxy barrier_;
};

// ---- pipelined and bulk work, for one client ----

// How many calls one pipelined operation keeps in flight, and how many items
// one bulk call carries.
constexpr int kWindow = 1000;
constexpr int kBulk = 1000;

// kWindow appends through async(), sent as they are made (the connection
// gathers what is queued into frames), then their replies.
class PipelinedAppend : public bench::Workload {
 public:
  PipelinedAppend(const shoal::Manager& m, const std::string& prefix)
      : list_(m.list(prefix + ".list")) {
    futures_.reserve(kWindow);
  }
  bool Op(int64_t i) override {
    for (int k = 0; k < kWindow; ++k) futures_.push_back(list_.async().append(i * kWindow + k));
    for (shoal::Future<void>& f : futures_) f.get();
    futures_.clear();
    return true;
  }
  int64_t OpsPerOp() const override { return kWindow; }

 private:
  shoal::ListProxy list_;
  std::vector<shoal::Future<void>> futures_;
};

// kWindow dict sets gathered in a Batch: one message out.
class BatchedDictSet : public DictSet {
 public:
  BatchedDictSet(const shoal::Manager& m, const std::string& prefix) : DictSet(m, prefix), m_(m) {
    futures_.reserve(kWindow);
  }
  bool Op(int64_t i) override {
    shoal::Batch batch(m_);
    for (int k = 0; k < kWindow; ++k) {
      const int64_t n = i * kWindow + k;
      futures_.push_back(dict_.async(batch).set(keys_[n % keys_.size()], n));
    }
    batch.send();
    for (shoal::Future<void>& f : futures_) f.get();
    futures_.clear();
    return true;
  }
  int64_t OpsPerOp() const override { return kWindow; }

 private:
  shoal::Manager m_;
  std::vector<shoal::Future<void>> futures_;
};

// list.extend() of kBulk ints; the list is cleared every 100 operations, so
// that it stays under 100,000 items.
class BulkExtend : public bench::Workload {
 public:
  BulkExtend(const shoal::Manager& m, const std::string& prefix) : list_(m.list(prefix + ".list")) {
    for (int k = 0; k < kBulk; ++k) items_.push_back(k);
  }
  bool Op(int64_t i) override {
    if (i % 100 == 99) list_.clear();
    list_.extend(items_);
    return true;
  }
  int64_t OpsPerOp() const override { return kBulk; }

 private:
  shoal::ListProxy list_;
  shoal::Value::List items_;
};

// dict.update() of kBulk entries, from 10 sets of kBulk keys in turn.
class BulkUpdate : public bench::Workload {
 public:
  BulkUpdate(const shoal::Manager& m, const std::string& prefix) : dict_(m.dict(prefix + ".dict")) {
    for (int set = 0; set < 10; ++set) {
      shoal::Value::Dict entries;
      for (int k = 0; k < kBulk; ++k) entries.set("key" + std::to_string(set * kBulk + k), k);
      sets_.push_back(std::move(entries));
    }
  }
  bool Op(int64_t i) override {
    dict_.update(sets_[i % sets_.size()]);
    return true;
  }
  int64_t OpsPerOp() const override { return kBulk; }

 private:
  shoal::DictProxy dict_;
  std::vector<shoal::Value::Dict> sets_;
};

int RunClient(const Target& target, int index, int clients) {
  shoal::Manager m = Connect(target);
  // Warm the connection up so that the first cell does not pay for it.
  shoal::ValueProxy warm = m.Value("q", 0);
  for (int i = 0; i < 100; ++i) warm.get();
  bench::Emit("connected");
  return bench::ServeDriver(
      [&](const std::string& workload, const std::string& prefix) -> std::unique_ptr<bench::Workload> {
        if (workload == "list_append") return std::make_unique<ListAppend>(m, prefix);
        if (workload == "dict_set") return std::make_unique<DictSet>(m, prefix);
        if (workload == "dict_get") return std::make_unique<DictGet>(m, prefix, index == 0);
        if (workload == "value_add") return std::make_unique<ValueAdd>(m, prefix);
        if (workload == "lock_acquire_release") return std::make_unique<LockCycle>(m, prefix);
        if (workload == "queue_put_get") return std::make_unique<QueueCycle>(m, prefix);
        if (workload == "event_round_trip") {
          return std::make_unique<EventRoundTrip>(target, m, prefix + ".c" + std::to_string(index));
        }
        if (workload == "barrier_wait") return std::make_unique<BarrierWait>(m, prefix, index, clients);
        if (workload == "pipelined_append") return std::make_unique<PipelinedAppend>(m, prefix);
        if (workload == "batched_dict_set") return std::make_unique<BatchedDictSet>(m, prefix);
        if (workload == "bulk_extend") return std::make_unique<BulkExtend>(m, prefix);
        if (workload == "bulk_update") return std::make_unique<BulkUpdate>(m, prefix);
        throw std::runtime_error("unknown workload: " + workload);
      });
}

// ---- parked waiters ----

// Parks count waits on event from this one thread, through async(): each
// is a call parked on the server, and costs this process a Future, not a
// thread. Returns once every call is sent; the function it returns waits for
// them all and records when each was seen back.
std::function<void()> ParkWaiters(shoal::EventProxy event, int count,
                                  std::vector<int64_t>* returned_ns) {
  returned_ns->assign(count, 0);
  auto waits = std::make_shared<std::vector<shoal::Future<bool>>>();
  waits->reserve(count);
  for (int i = 0; i < count; ++i) waits->push_back(event.async().wait(std::chrono::seconds(120)));
  return [waits, returned_ns] {
    for (size_t i = 0; i < waits->size(); ++i) {
      try {
        if ((*waits)[i].get()) (*returned_ns)[i] = bench::MonotonicNanos();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "shoal_bench: waiter: %s\n", e.what());
      }
    }
  };
}

void WaitForLine(const std::string& expected) {
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line == expected) return;
  }
}

int RunWaiters(const Target& target, const std::string& event_name, int count) {
  shoal::Manager m = Connect(target);
  shoal::EventProxy event = m.Event(event_name);
  bench::Emit("connected");
  WaitForLine("park");
  std::vector<int64_t> returned;
  std::function<void()> join = ParkWaiters(event, count, &returned);
  bench::Emit("issued");
  join();
  int64_t first = 0, last = 0, woken = 0;
  for (int64_t t : returned) {
    if (t == 0) continue;
    ++woken;
    first = first == 0 ? t : std::min(first, t);
    last = std::max(last, t);
  }
  char line[200];
  std::snprintf(line, sizeof line,
                "{\"woken\": %lld, \"first_return\": %.9f, \"last_return\": %.9f}",
                static_cast<long long>(woken), first * 1e-9, last * 1e-9);
  bench::Emit(line);
  WaitForLine("quit");
  return 0;
}

int RunWaker(const Target& target, const std::string& event_name, int total) {
  shoal::Manager m = Connect(target);
  shoal::EventProxy event = m.Event(event_name);
  int64_t waiting = 0;
  for (int polls = 0; polls < 15000; ++polls) {  // 300 s at most
    waiting = m.describe(event_name).waiting;
    if (waiting >= total) break;
    std::this_thread::sleep_for(20ms);
  }
  if (waiting < total) {
    std::fprintf(stderr, "shoal_bench: only %lld of %d waiters parked\n",
                 static_cast<long long>(waiting), total);
    return 1;
  }
  bench::Emit("parked " + std::to_string(waiting));
  WaitForLine("go");
  const double t_set = bench::MonotonicSeconds();
  event.set();
  char line[100];
  std::snprintf(line, sizeof line, "{\"t_set\": %.9f}", t_set);
  bench::Emit(line);
  WaitForLine("quit");
  return 0;
}

// Wake-up latency: a thread with its own Manager is parked in get() on a
// queue (the server's count of waiters on it says so); the main thread notes
// the time and puts one item; the woken thread notes when its get returned.
int RunWakeup(const Target& target, int trials) {
  shoal::Manager m = Connect(target);
  const std::string name = "wakeup.queue";
  shoal::QueueProxy queue = m.Queue(0, name);
  shoal::Manager own = Connect(target);
  shoal::QueueProxy theirs = own.Queue(0, name);
  bench::MeasureWakeups(
      trials, [&] { theirs.get(true, kCallTimeout); },
      // Parked: the server counts the get as waiting on the queue.
      [&] { return m.describe(name).waiting == 1; }, [&](int i) { queue.put(i); });
  return 0;
}

// Makes count anonymous lists on m, each held by its proxy in out.
void MakeLists(const shoal::Manager& m, int64_t count, std::vector<shoal::ListProxy>* out) {
  out->reserve(out->size() + static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) out->push_back(m.list());
}

// Makes count objects with make and holds them until "quit".
template <typename Make>
int HoldObjects(const shoal::Manager& m, int64_t count, Make make) {
  std::vector<decltype(make())> held;
  held.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) held.push_back(make());
  bench::Emit("held " + std::to_string(m.object_count()));
  WaitForLine("quit");
  return 0;
}

int RunHold(const Target& target, int64_t count, const std::string& kind) {
  shoal::Manager m = Connect(target);
  if (kind == "list") return HoldObjects(m, count, [&] { return m.list(); });
  if (kind == "dict") return HoldObjects(m, count, [&] { return m.dict(); });
  if (kind == "Queue") return HoldObjects(m, count, [&] { return m.Queue(); });
  std::cerr << "hold: no kind " << kind << " (list, dict, Queue)\n";
  return 2;
}

// Value.add latencies on its own session for seconds; while churn is set, a
// thread on a third session makes and drops lists as fast as it can.
struct Latencies {
  std::vector<int64_t> ns;
  int64_t churned = 0;
};

Latencies MeasureAdds(const Target& target, double seconds, bool churn) {
  shoal::Manager m = Connect(target);
  shoal::ValueProxy counter = m.Value("q", 0);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> churned{0};
  std::thread churner;
  if (churn) {
    churner = std::thread([&] {
      shoal::Manager c = Connect(target);
      while (!stop.load(std::memory_order_relaxed)) {
        // Made and dropped at once: the server frees it when its last
        // reference goes.
        c.list().append(1);
        churned.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  Latencies out;
  const double end = bench::MonotonicSeconds() + seconds;
  while (bench::MonotonicSeconds() < end) {
    const int64_t t0 = bench::MonotonicNanos();
    counter.add(1);
    out.ns.push_back(bench::MonotonicNanos() - t0);
  }
  stop = true;
  if (churner.joinable()) churner.join();
  out.churned = churned.load();
  return out;
}

int RunScale(const Target& target, int64_t held_count, double seconds) {
  shoal::Manager m = Connect(target);
  std::vector<shoal::ListProxy> held;
  const double t0 = bench::MonotonicSeconds();
  MakeLists(m, held_count, &held);
  const double made_s = bench::MonotonicSeconds() - t0;
  shoal::ValueProxy probe = m.Value("q", 0);
  bench::Emit("held " + std::to_string(held.size()));
  WaitForLine("go");
  const Latencies quiet = MeasureAdds(target, seconds, false);
  const Latencies churned = MeasureAdds(target, seconds, true);
  std::vector<int64_t> describes;
  for (int i = 0; i < 200; ++i) {
    const int64_t d0 = bench::MonotonicNanos();
    (void)m.describe(probe.id());
    describes.push_back(bench::MonotonicNanos() - d0);
  }
  char line[256];
  std::snprintf(line, sizeof line,
                "{\"held\": %lld, \"make_s\": %.3f, \"churned\": %lld, \"seconds\": %.3f, ",
                static_cast<long long>(held.size()), made_s,
                static_cast<long long>(churned.churned), seconds);
  bench::Emit(std::string(line) + "\"quiet\": " + bench::HistogramJson(quiet.ns) +
              ", \"churn\": " + bench::HistogramJson(churned.ns) +
              ", \"describe\": " + bench::HistogramJson(describes) + "}");
  WaitForLine("quit");
  return 0;
}

// Many sessions from one process: each of count Managers has its own
// connection and its own Value; threads share them out, each calling add on
// its sessions in turn.
int RunSessions(const Target& target, int count, int threads, double seconds) {
  // Every session is a socket: take the descriptors the hard limit allows.
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  std::vector<shoal::Manager> sessions;
  std::vector<shoal::ValueProxy> values;
  sessions.reserve(count);
  values.reserve(count);
  for (int i = 0; i < count; ++i) {
    sessions.push_back(Connect(target));
    values.push_back(sessions.back().Value("q", 0));
  }
  bench::Emit("connected " + std::to_string(count));
  WaitForLine("go");
  std::atomic<int64_t> calls{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> workers;
  const double t0 = bench::MonotonicSeconds();
  const double end = t0 + seconds;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      int64_t mine = 0;
      try {
        while (bench::MonotonicSeconds() < end) {
          for (int i = t; i < count; i += threads) values[i].add(1);
          mine += (count - t + threads - 1) / threads;
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "shoal_bench: sessions: %s\n", e.what());
        failed = true;
      }
      calls.fetch_add(mine);
    });
  }
  for (std::thread& w : workers) w.join();
  const double took = bench::MonotonicSeconds() - t0;
  if (failed) return 1;
  // Every session's own count says it took part.
  int64_t idle = 0;
  for (shoal::ValueProxy& v : values) idle += v.get().as_int() == 0 ? 1 : 0;
  char line[200];
  std::snprintf(line, sizeof line,
                "{\"sessions\": %d, \"calls\": %lld, \"seconds\": %.3f, \"idle_sessions\": %lld}",
                count, static_cast<long long>(calls.load()), took, static_cast<long long>(idle));
  bench::Emit(line);
  WaitForLine("quit");
  return 0;
}

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s client ADDRESS KEYFILE INDEX CLIENTS\n"
               "       %s waiters ADDRESS KEYFILE EVENT COUNT\n"
               "       %s waker ADDRESS KEYFILE EVENT TOTAL\n"
               "       %s wakeup ADDRESS KEYFILE TRIALS\n"
               "       %s scale ADDRESS KEYFILE HELD SECONDS\n"
               "       %s hold ADDRESS KEYFILE COUNT [list|dict|Queue]\n"
               "       %s sessions ADDRESS KEYFILE COUNT THREADS SECONDS\n",
               argv0, argv0, argv0, argv0, argv0, argv0, argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) return Usage(argv[0]);
  const std::string mode = argv[1];
  try {
    const Target target{argv[2], shoal::AuthKey::from_file(argv[3])};
    if (mode == "client" && argc == 6) return RunClient(target, std::atoi(argv[4]), std::atoi(argv[5]));
    if (mode == "waiters" && argc == 6) return RunWaiters(target, argv[4], std::atoi(argv[5]));
    if (mode == "waker" && argc == 6) return RunWaker(target, argv[4], std::atoi(argv[5]));
    if (mode == "wakeup" && argc == 5) return RunWakeup(target, std::atoi(argv[4]));
    if (mode == "scale" && argc == 6) return RunScale(target, std::atoll(argv[4]), std::atof(argv[5]));
    if (mode == "hold" && (argc == 5 || argc == 6)) {
      return RunHold(target, std::atoll(argv[4]), argc == 6 ? argv[5] : "list");
    }
    if (mode == "sessions" && argc == 7) {
      return RunSessions(target, std::atoi(argv[4]), std::atoi(argv[5]), std::atof(argv[6]));
    }
    return Usage(argv[0]);
  } catch (const shoal::Error& e) {
    std::fprintf(stderr, "shoal_bench %s: %s: %s\n", mode.c_str(), e.kind().c_str(), e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shoal_bench %s: %s\n", mode.c_str(), e.what());
  }
  return 1;
}
