// The client side of the benchmark suite's protocol, shared by the C++
// clients (shoal_bench for shoal, redis_bench for Redis); bench/python_client.py
// speaks the same for Python's manager. bench/suite.py drives one client
// process per simulated worker over its stdin and stdout:
//
//   driver -> client               client -> driver
//                                  connected        (once, when connected and warm)
//   setup WORKLOAD PREFIX SECONDS  ready            (objects made)
//   go                             {"ops": ..., "t_start": ..., "t_end": ..., "hist": ...}
//   quit (or end of input)         (the client closes its connections and exits)
//
// PREFIX names the cell's shared objects, so that every cell starts from
// fresh ones. An operation (Workload::Op) is timed from before its first call to after its
// last reply; the client stops starting operations SECONDS after "go".
// t_start and t_end are CLOCK_MONOTONIC seconds (the same clock in every
// process of the machine): the driver divides the cell's operations by the
// span from the first client's start to the last one's end. hist is the
// latency histogram, [[bucket, count], ...] with bucket = floor(32 * log2(ns)).
#ifndef SHOAL_BENCH_BENCH_CLIENT_H_
#define SHOAL_BENCH_BENCH_CLIENT_H_

#include <time.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace bench {

// CLOCK_MONOTONIC, in seconds and in nanoseconds.
inline double MonotonicSeconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
inline int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// The histogram of a set of latencies, as the driver reads it.
inline std::string HistogramJson(const std::vector<int64_t>& latencies_ns) {
  std::map<int, int64_t> buckets;
  for (int64_t ns : latencies_ns) {
    ++buckets[static_cast<int>(std::floor(32.0 * std::log2(static_cast<double>(ns < 1 ? 1 : ns))))];
  }
  std::string out = "[";
  for (const auto& [bucket, count] : buckets) {
    if (out.size() > 1) out += ",";
    out += "[" + std::to_string(bucket) + "," + std::to_string(count) + "]";
  }
  return out + "]";
}

// One workload, set up in one client process for one cell.
class Workload {
 public:
  virtual ~Workload() = default;
  // One operation. false: the workload cannot go on (a barrier another
  // client broke on its way out); the operation is not counted.
  virtual bool Op(int64_t i) = 0;
  // How many operations one Op makes, as the throughput counts them: more
  // than 1 for a workload that pipelines a window of calls per Op (its
  // latency is then the window's).
  virtual int64_t OpsPerOp() const { return 1; }
  // Called once the client has stopped starting operations: lets go of
  // partners (a parked thread, the other parties of a barrier).
  virtual void Finish() {}
};

// Makes the workload of a "setup" line; throws std::runtime_error for an
// unknown workload.
using WorkloadFactory =
    std::function<std::unique_ptr<Workload>(const std::string& workload, const std::string& prefix)>;

inline void Emit(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// Runs a workload for `seconds` and returns its result line.
inline std::string RunFor(Workload& workload, double seconds) {
  std::vector<int64_t> latencies;
  latencies.reserve(1 << 16);
  const int64_t start = MonotonicNanos();
  const int64_t deadline = start + static_cast<int64_t>(seconds * 1e9);
  int64_t end = start;
  int64_t ops = 0;
  const int64_t per_op = workload.OpsPerOp();
  for (int64_t i = 0;; ++i) {
    const int64_t t0 = MonotonicNanos();
    if (t0 >= deadline) break;
    if (!workload.Op(i)) break;
    end = MonotonicNanos();
    latencies.push_back(end - t0);
    ops += per_op;
  }
  workload.Finish();
  char head[160];
  std::snprintf(head, sizeof head, "{\"ops\": %lld, \"t_start\": %.9f, \"t_end\": %.9f, \"hist\": ",
                static_cast<long long>(ops), static_cast<double>(start) * 1e-9,
                static_cast<double>(end) * 1e-9);
  return head + HistogramJson(latencies) + "}";
}

// The command loop of a client process. Returns the exit status.
inline int ServeDriver(const WorkloadFactory& make) {
  std::unique_ptr<Workload> workload;
  double seconds = 0;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream words(line);
    std::string command;
    words >> command;
    if (command == "setup") {
      std::string name, prefix;
      words >> name >> prefix >> seconds;
      workload.reset();  // the previous cell's objects and partners go first
      workload = make(name, prefix);
      Emit("ready");
    } else if (command == "go") {
      if (workload == nullptr) throw std::runtime_error("go before setup");
      Emit(RunFor(*workload, seconds));
      workload.reset();
    } else if (command == "quit") {
      break;
    } else if (!command.empty()) {
      throw std::runtime_error("unknown command: " + line);
    }
  }
  return 0;
}

// The 1,000 keys of the dict workloads, as every client spells them.
inline std::vector<std::string> DictKeys() {
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back("key" + std::to_string(i));
  return keys;
}

// The wake-up latency of one parked get, `trials` times, and its result line:
// get_one() runs on a thread of its own (with a connection of its own) and
// blocks until an item comes; parked() tells whether the server lists that
// get as waiting; put(i) hands it item i. The time is from before the put to
// the return of the get.
inline void MeasureWakeups(int trials, const std::function<void()>& get_one,
                           const std::function<bool()>& parked, const std::function<void(int)>& put) {
  using namespace std::chrono_literals;
  std::mutex mu;
  std::condition_variable cv;
  int64_t returned_at = 0;
  int done = -1;
  std::thread getter([&] {
    for (int i = 0; i < trials; ++i) {
      get_one();
      const int64_t now = MonotonicNanos();
      std::lock_guard<std::mutex> hold(mu);
      returned_at = now;
      done = i;
      cv.notify_all();
    }
  });
  std::vector<int64_t> latencies;
  for (int i = 0; i < trials; ++i) {
    bool waiting = false;
    for (int polls = 0; polls < 5000 && !waiting; ++polls) {
      waiting = parked();
      if (!waiting) std::this_thread::sleep_for(100us);
    }
    if (!waiting) throw std::runtime_error("the getter did not park");
    const int64_t t0 = MonotonicNanos();
    put(i);
    std::unique_lock<std::mutex> hold(mu);
    if (!cv.wait_for(hold, 30s, [&] { return done == i; })) {
      throw std::runtime_error("the parked getter did not return");
    }
    latencies.push_back(returned_at - t0);
  }
  getter.join();
  Emit("{\"trials\": " + std::to_string(trials) + ", \"hist\": " + HistogramJson(latencies) +
       "}");
}

}  // namespace bench

#endif  // SHOAL_BENCH_BENCH_CLIENT_H_
