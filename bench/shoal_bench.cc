// shoal_bench: the shoal side of the benchmarks. Connects to a running
// shoal-server and runs sequential workloads from one client, each call
// waiting for its reply (as a Python proxy call does), and prints one JSON
// line per workload in the same shape as python_manager.py:
//   {"system": "shoal", "workload": ..., "ops": ..., "seconds": ...,
//    "p50_us": ..., "p99_us": ...}
//
// Usage: shoal_bench ADDRESS AUTHKEY_FILE [OPS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "shoal/shoal.h"

namespace {

void Measure(const char* workload, int ops, const std::function<void(int)>& fn) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> latency_us;
  latency_us.reserve(ops);
  const auto start = Clock::now();
  for (int i = 0; i < ops; ++i) {
    const auto t0 = Clock::now();
    fn(i);
    latency_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latency_us.begin(), latency_us.end());
  const double p50 = latency_us[latency_us.size() / 2];
  const double p99 = latency_us[std::min(latency_us.size() - 1, latency_us.size() * 99 / 100)];
  std::printf(
      "{\"system\": \"shoal\", \"workload\": \"%s\", \"ops\": %d, \"seconds\": %.6f, "
      "\"p50_us\": %.3f, \"p99_us\": %.3f}\n",
      workload, ops, seconds, p50, p99);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s ADDRESS AUTHKEY_FILE [OPS]\n", argv[0]);
    return 2;
  }
  const int ops = argc > 3 ? std::atoi(argv[3]) : 20000;
  try {
    shoal::Manager m = shoal::Manager::connect(argv[1], shoal::AuthKey::from_file(argv[2]));
    shoal::ListProxy list = m.list();
    shoal::DictProxy dict = m.dict();
    shoal::ValueProxy value = m.Value("q", 0);
    // Warm the connection up so the first workload does not pay for it.
    for (int i = 0; i < 200; ++i) value.get();
    Measure("list_append", ops, [&](int i) { list.append(i); });
    Measure("dict_set", ops, [&](int i) { dict.set("key" + std::to_string(i % 1000), i); });
    Measure("dict_get", ops, [&](int i) { dict.get("key" + std::to_string(i % 1000)); });
    Measure("value_add", ops, [&](int) { value.add(1); });

    shoal::LockProxy lock = m.Lock();
    Measure("lock_acquire_release", ops, [&](int) {
      lock.acquire();
      lock.release();
    });

    shoal::QueueProxy queue = m.Queue();
    Measure("queue_put_get", ops, [&](int i) {
      queue.put(i);
      queue.get();
    });

    // Wake-up: a second client (its own Manager, as Python's proxies give
    // each thread its own connection) is parked in get() on one queue; each
    // operation puts an item there and waits for the woken client's answer
    // on another queue: two wake-ups of a parked getter per operation.
    shoal::QueueProxy ping = m.Queue(), pong = m.Queue();
    std::thread echo([&, address = std::string(argv[1]), key = std::string(argv[2])] {
      shoal::Manager own = shoal::Manager::connect(address, shoal::AuthKey::from_file(key));
      shoal::QueueProxy in = own.attach<shoal::QueueProxy>(ping.token());
      shoal::QueueProxy out = own.attach<shoal::QueueProxy>(pong.token());
      for (;;) {
        shoal::Value item = in.get();
        if (item.is_none()) return;
        out.put(item);
      }
    });
    Measure("wakeup_round_trip", std::max(1, ops / 4), [&](int i) {
      ping.put(i);
      pong.get();
    });
    ping.put(shoal::Value());
    echo.join();
  } catch (const shoal::Error& e) {
    std::fprintf(stderr, "shoal_bench: %s: %s\n", e.kind().c_str(), e.what());
    return 1;
  }
  return 0;
}
