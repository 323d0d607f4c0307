#!/usr/bin/env python3
"""shoal::Pool beside Python's multiprocessing.Pool, in the same run.

Starts a shoal-server on loopback, then for each workload runs
bench/pool_bench (a shoal::Pool of local workers) and the same map on
Python's multiprocessing.Pool (fork start method), both with the default
chunksize, each --repeat times (a new pool each time), and prints the best
times and the ratio of throughputs (shoal over Python). On each pool the
map runs --maps times: "first" is the pool's first map of that size, cold
(fresh workers, memory not yet grown), "best" the best of its maps.

  python3 bench/pool_bench.py --build build-bench [--processes 4] [--repeat 3] [--maps 5]

Workloads:
  trivial   map(square, range(100000))
  sleep     map(sleep 1 ms, [1] * 2000)
  kill      the sleep map with one worker SIGKILLed halfway through, against
            the same map undisturbed (shoal only: Python's map would wait for
            ever for the tasks of a killed worker)
"""
import argparse
import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time


def square(x):
    return x * x


def sleep_ms(ms):
    time.sleep(ms / 1000.0)
    return ms


def python_map(func, inputs, processes, maps):
    """The first map's seconds and the best of maps."""
    ctx = multiprocessing.get_context("fork")
    want = [func(x) for x in inputs] if func is square else inputs
    times = []
    with ctx.Pool(processes) as pool:
        # The workers are up before the clock starts, as shoal's are.
        pool.map(square, [1] * (processes * 4), 1)
        for _ in range(maps):
            start = time.perf_counter()
            got = pool.map(func, inputs)
            times.append(time.perf_counter() - start)
            if got != want:
                raise SystemExit("Python's map gave wrong results")
    return times[0], min(times)


def start_server(build, tmp):
    key = os.path.join(tmp, "authkey")
    with open(key, "w") as f:
        f.write("pool-bench-%d\n" % os.getpid())
    os.chmod(key, 0o600)
    server = subprocess.Popen(
        [os.path.join(build, "server", "shoal-server"), "--listen=127.0.0.1:0",
         "--authkey-file=" + key],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for _ in range(20):
        line = server.stdout.readline()
        m = re.search(r"listening on (\S+)", line)
        if m:
            return server, m.group(1), key
    server.kill()
    raise SystemExit("shoal-server did not say where it listens")


def shoal_map(build, address, key, workload, tasks, processes, maps=1):
    out = subprocess.run(
        [os.path.join(build, "bench", "pool_bench"), address, key, workload, str(tasks),
         str(processes), str(maps)],
        check=True, capture_output=True, text=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", required=True)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--maps", type=int, default=5)
    parser.add_argument("--trivial-tasks", type=int, default=100000)
    parser.add_argument("--sleep-tasks", type=int, default=2000)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        server, address, key = start_server(args.build, tmp)
        try:
            for workload, tasks, func, inputs in (
                    ("trivial", args.trivial_tasks, square, list(range(args.trivial_tasks))),
                    ("sleep", args.sleep_tasks, sleep_ms, [1] * args.sleep_tasks)):
                maps = args.maps if workload == "trivial" else 1
                shoal_runs = [shoal_map(args.build, address, key, workload, tasks,
                                        args.processes, maps) for _ in range(args.repeat)]
                python_runs = [python_map(func, inputs, args.processes, maps)
                               for _ in range(args.repeat)]
                shoal_s = min(r["seconds"] for r in shoal_runs)
                python_s = min(r[1] for r in python_runs)
                shoal_first = min(r["first_seconds"] for r in shoal_runs)
                python_first = min(r[0] for r in python_runs)
                results[workload] = {
                    "tasks": tasks, "maps": maps,
                    "shoal_seconds": shoal_s, "python_seconds": python_s,
                    "shoal_tasks_per_second": tasks / shoal_s,
                    "python_tasks_per_second": tasks / python_s,
                    "ratio": python_s / shoal_s,
                    "shoal_first_seconds": shoal_first, "python_first_seconds": python_first,
                    "first_ratio": python_first / shoal_first,
                }
            kill = shoal_map(args.build, address, key, "kill", args.sleep_tasks, args.processes)
            results["kill"] = kill
        finally:
            server.kill()
            server.wait()
    print("%-8s %8s %6s %12s %12s %8s" % ("workload", "tasks", "map", "shoal s", "Python s",
                                          "ratio"))
    for workload in ("trivial", "sleep"):
        r = results[workload]
        if r["maps"] > 1:
            print("%-8s %8d %6s %12.4f %12.4f %7.2fx" % (
                workload, r["tasks"], "first", r["shoal_first_seconds"],
                r["python_first_seconds"], r["first_ratio"]))
        print("%-8s %8d %6s %12.4f %12.4f %7.2fx" % (
            workload, r["tasks"], "best" if r["maps"] > 1 else "", r["shoal_seconds"],
            r["python_seconds"], r["ratio"]))
    k = results["kill"]
    print("kill     %8d %12.4f (undisturbed %.4f s; every result present and correct)" %
          (k["tasks"], k["seconds"], k["undisturbed_seconds"]))
    print(json.dumps(results))


if __name__ == "__main__":
    sys.exit(main())
