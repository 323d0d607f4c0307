#!/usr/bin/env python3
"""The reference side of the benchmarks: Python's multiprocessing manager.

Starts a SyncManager serving over TCP on loopback with an authkey (in its own
process, as Python users run it), then, from this separate client process,
runs the same sequential workloads as shoal_bench and prints one JSON line
per workload: {"system": "python", "workload": ..., "ops": ..., "seconds": ...,
"p50_us": ..., "p99_us": ...}.
"""
import argparse
import json
import os
import threading
import time
from multiprocessing.managers import SyncManager


def measure(name, ops, fn):
    lat = []
    start = time.perf_counter()
    for i in range(ops):
        t0 = time.perf_counter_ns()
        fn(i)
        lat.append(time.perf_counter_ns() - t0)
    seconds = time.perf_counter() - start
    lat.sort()
    print(json.dumps({
        "system": "python",
        "workload": name,
        "ops": ops,
        "seconds": seconds,
        "p50_us": lat[len(lat) // 2] / 1000.0,
        "p99_us": lat[min(len(lat) - 1, (len(lat) * 99) // 100)] / 1000.0,
    }), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", type=int, default=20000)
    args = parser.parse_args()

    manager = SyncManager(address=("127.0.0.1", 0), authkey=os.urandom(32))
    manager.start()
    try:
        lst = manager.list()
        d = manager.dict()
        v = manager.Value("i", 0)
        n = args.ops
        measure("list_append", n, lambda i: lst.append(i))
        measure("dict_set", n, lambda i: d.__setitem__("key%d" % (i % 1000), i))
        measure("dict_get", n, lambda i: d.get("key%d" % (i % 1000)))
        # Python's Value has no atomic add: the nearest is a read and a write,
        # which is two round trips and not atomic. Measured as users write it.
        def value_add(_):
            v.value = v.value + 1
        measure("value_add", n, value_add)

        lock = manager.Lock()
        def lock_cycle(_):
            lock.acquire()
            lock.release()
        measure("lock_acquire_release", n, lock_cycle)

        q = manager.Queue()
        def queue_cycle(i):
            q.put(i)
            q.get()
        measure("queue_put_get", n, queue_cycle)

        # Wake-up: a second client (a thread with its own connection, as
        # Python's proxies give each thread) is parked in get() on one queue;
        # each operation puts an item there and waits for the woken client's
        # answer on another queue. One operation is two wake-ups of a parked
        # getter, each a put and the get it completes.
        ping, pong = manager.Queue(), manager.Queue()
        def echo():
            while True:
                item = ping.get()
                if item is None:
                    return
                pong.put(item)
        echoer = threading.Thread(target=echo)
        echoer.start()
        def wake_round_trip(i):
            ping.put(i)
            pong.get()
        measure("wakeup_round_trip", max(1, n // 4), wake_round_trip)
        ping.put(None)
        echoer.join()
    finally:
        manager.shutdown()


if __name__ == "__main__":
    main()
