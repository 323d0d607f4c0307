// The Pool benchmark's client: maps on a shoal::Pool of local workers,
// timed, its results checked. bench/pool_bench.py runs it beside Python's
// multiprocessing.Pool.map of the same function.
//
//   pool_bench ADDRESS KEYFILE WORKLOAD TASKS PROCESSES [MAPS]
//
// WORKLOAD is one of
//   trivial   map("square", range(TASKS)): x * x
//   sleep     map("sleep", [1] * TASKS): sleeps 1 ms
//   kill      as sleep, and one worker is SIGKILLed halfway through (at half
//             the time an undisturbed map of the same tasks took, measured
//             first)
// Prints one line: {"workload": ..., "tasks": N, "seconds": S} (for trivial
// and sleep, S is the best of MAPS maps on the one pool, 1 by default, and
// "first_seconds" the first; for kill, also "undisturbed_seconds"), after
// checking every result. The maps use the default chunksize, as Python's.
#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "shoal/shoal.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

shoal::Functions BenchFunctions() {
  shoal::Functions fns;
  fns.add("square", [](const shoal::Value::List& a) {
    return shoal::Value(a[0].as_int() * a[0].as_int());
  });
  fns.add("sleep", [](const shoal::Value::List& a) {
    std::this_thread::sleep_for(std::chrono::milliseconds(a[0].as_int()));
    return shoal::Value(a[0].as_int());
  });
  return fns;
}

bool Check(const shoal::Value::List& got, const shoal::Value::List& inputs, bool square) {
  if (got.size() != inputs.size()) return false;
  for (size_t i = 0; i < got.size(); ++i) {
    const int64_t x = inputs[i].as_int();
    if (got[i].as_int() != (square ? x * x : x)) return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6 && argc != 7) {
    std::fprintf(stderr,
                 "usage: pool_bench ADDRESS KEYFILE trivial|sleep|kill TASKS PROCESSES [MAPS]\n");
    return 2;
  }
  // The timed map runs MAPS times on the same pool, the best time kept
  // (for a profile of maps alone).
  const int maps = argc == 7 ? std::max(1, std::atoi(argv[6])) : 1;
  const std::string workload = argv[3];
  const int tasks = std::atoi(argv[4]);
  const int processes = std::atoi(argv[5]);
  shoal::Manager m = shoal::Manager::connect(argv[1], shoal::AuthKey::from_file(argv[2]));
  const shoal::Functions fns = BenchFunctions();
  shoal::Pool pool(m, fns, {.processes = processes});
  // The workers are up and connected before the clock starts, as Python's
  // are forked before its map starts.
  pool.map("square", shoal::Value::List(static_cast<size_t>(processes) * 4, shoal::Value(1)), 1);

  shoal::Value::List inputs;
  inputs.reserve(static_cast<size_t>(tasks));
  const bool square = workload == "trivial";
  for (int i = 0; i < tasks; ++i) inputs.push_back(square ? shoal::Value(i) : shoal::Value(1));
  const std::string func = square ? "square" : "sleep";

  if (workload == "trivial" || workload == "sleep") {
    // The figure: map(), as Python's pool.map is timed.
    double seconds = 0;
    double first_seconds = 0;
    shoal::Value::List got;
    for (int i = 0; i < maps; ++i) {
      Clock::time_point start = Clock::now();
      got = pool.map(func, inputs);
      const double took = Seconds(start);
      if (!Check(got, inputs, square)) {
        std::fprintf(stderr, "wrong results\n");
        return 1;
      }
      if (i == 0) first_seconds = took;
      if (i == 0 || took < seconds) seconds = took;
    }
    // Where a map's time goes, in a second one through map_async: the
    // submission, the last result in, the list in hand.
    Clock::time_point start = Clock::now();
    shoal::AsyncResult r = pool.map_async(func, inputs);
    const double submitted = Seconds(start);
    r.wait();
    const double done = Seconds(start);
    got = r.get().as_list();
    const double listed = Seconds(start);
    if (!Check(got, inputs, square)) {
      std::fprintf(stderr, "wrong results\n");
      return 1;
    }
    std::printf(
        "{\"workload\": \"%s\", \"tasks\": %d, \"seconds\": %.6f, \"first_seconds\": %.6f, "
        "\"submit_seconds\": %.6f, \"results_in_seconds\": %.6f, \"async_seconds\": %.6f}\n",
        workload.c_str(), tasks, seconds, first_seconds, submitted, done, listed);
  } else if (workload == "kill") {
    Clock::time_point start = Clock::now();
    shoal::Value::List got = pool.map(func, inputs);
    const double undisturbed = Seconds(start);
    if (!Check(got, inputs, false)) return 1;
    start = Clock::now();
    shoal::AsyncResult r = pool.map_async(func, inputs);
    std::this_thread::sleep_for(std::chrono::duration<double>(undisturbed / 2));
    const std::vector<pid_t> pids = pool.pids();
    if (pids.empty() || kill(pids[0], SIGKILL) != 0) {
      std::fprintf(stderr, "no worker to kill\n");
      return 1;
    }
    got = r.get().as_list();
    const double seconds = Seconds(start);
    if (!Check(got, inputs, false)) {
      std::fprintf(stderr, "wrong results after the kill\n");
      return 1;
    }
    std::printf(
        "{\"workload\": \"kill\", \"tasks\": %d, \"seconds\": %.6f, "
        "\"undisturbed_seconds\": %.6f}\n",
        tasks, seconds, undisturbed);
  } else {
    std::fprintf(stderr, "unknown workload %s\n", workload.c_str());
    return 2;
  }
  pool.close();
  pool.join();
  return 0;
}
