#!/usr/bin/env python3
"""The Python side of the benchmark suite's clients: Python's manager proxies.

Modes (bench/suite.py runs them, one process per simulated worker):

  python_client.py client ADDRESS KEYFILE INDEX CLIENTS
      one client of a cell, driven over stdin/stdout as bench/bench_client.h
      describes
  python_client.py waiters ADDRESS KEYFILE EVENT COUNT
      connects and prints "connected"; on "park", starts COUNT threads, each with its own connection (Python's proxies open one
      per thread), parked in wait() on the named Event; prints "issued" once
      every thread has connected and is about to wait, then one JSON line
      when all have returned
  python_client.py waker ADDRESS KEYFILE EVENT
      on "go", sets the Event and prints the time it did
  python_client.py wakeup ADDRESS KEYFILE TRIALS
      the wake-up latency of one parked get(), TRIALS times
"""
import json
import math
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from python_manager import BenchManager, parse_address, read_key  # noqa: E402

CALL_TIMEOUT = 30.0


def monotonic():
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def monotonic_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def histogram(latencies_ns):
    buckets = {}
    for ns in latencies_ns:
        b = math.floor(32.0 * math.log2(max(ns, 1)))
        buckets[b] = buckets.get(b, 0) + 1
    return sorted(buckets.items())


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def connect(address, key_file):
    m = BenchManager(address=parse_address(address), authkey=read_key(key_file))
    m.connect()
    return m


KEYS = ["key%d" % i for i in range(1000)]


class Workload:
    # Operations one op() makes, as the throughput counts them (see
    # bench_client.h's OpsPerOp).
    ops_per_op = 1

    def op(self, i):
        raise NotImplementedError

    def finish(self):
        pass


class ListAppend(Workload):
    def __init__(self, m, prefix):
        self.lst = m.named_list(prefix + ".list")

    def op(self, i):
        self.lst.append(i)
        return True


class DictSet(Workload):
    def __init__(self, m, prefix):
        self.d = m.named_dict(prefix + ".dict")

    def op(self, i):
        self.d[KEYS[i % 1000]] = i
        return True


class DictGet(DictSet):
    def __init__(self, m, prefix, fill):
        super().__init__(m, prefix)
        if fill:
            for i, k in enumerate(KEYS):
                self.d[k] = i

    def op(self, i):
        self.d.get(KEYS[i % 1000])
        return True


class ValueAdd(Workload):
    # Python's Value has no atomic add: the nearest is a read and a write,
    # two calls and not atomic (concurrent adds get lost), as users write it.
    def __init__(self, m, prefix):
        self.v = m.named_Value(prefix + ".value", "q", 0)

    def op(self, i):
        self.v.value = self.v.value + 1
        return True


class LockCycle(Workload):
    def __init__(self, m, prefix):
        self.lock = m.named_Lock(prefix + ".lock")

    def op(self, i):
        if not self.lock.acquire(True, CALL_TIMEOUT):
            raise RuntimeError("lock acquire timed out")
        self.lock.release()
        return True


class QueueCycle(Workload):
    def __init__(self, m, prefix):
        self.q = m.named_Queue(prefix + ".queue")

    def op(self, i):
        self.q.put(i)
        self.q.get(True, CALL_TIMEOUT)
        return True


class EventRoundTrip(Workload):
    """The same protocol as shoal_bench's: client set A, wait B, clear B; the
    partner thread (its own connection, as Python's proxies open one per
    thread) wait A, clear A, set B."""

    def __init__(self, m, prefix):
        self.a = m.named_Event(prefix + ".a")
        self.b = m.named_Event(prefix + ".b")
        self.stop = False
        connected = threading.Event()
        self.partner = threading.Thread(target=self._partner, args=(connected,), daemon=True)
        self.partner.start()
        if not connected.wait(CALL_TIMEOUT):
            raise RuntimeError("the event partner did not connect")

    def _partner(self, connected):
        try:
            self.a.is_set()  # opens this thread's connection
            connected.set()
            while True:
                if not self.a.wait(CALL_TIMEOUT):
                    raise RuntimeError("partner: wait on A timed out")
                if self.stop:
                    return
                self.a.clear()
                self.b.set()
        except BaseException as e:  # reported, and the client exits
            sys.stderr.write("python_client: event partner: %r\n" % (e,))
            os._exit(1)

    def op(self, i):
        self.a.set()
        if not self.b.wait(CALL_TIMEOUT):
            raise RuntimeError("wait on B timed out")
        self.b.clear()
        return True

    def finish(self):
        self.stop = True
        self.a.set()
        self.partner.join(CALL_TIMEOUT)


class BarrierWait(Workload):
    def __init__(self, m, prefix, index, clients):
        parties = min(8, clients)
        self.barrier = m.named_Barrier("%s.barrier%d" % (prefix, index // parties), parties)

    def op(self, i):
        try:
            self.barrier.wait(CALL_TIMEOUT)
            return True
        except threading.BrokenBarrierError:
            return False

    def finish(self):
        self.barrier.abort()


BULK = 1000


class BulkExtend(Workload):
    """lst.extend() of BULK ints; cleared every 100 operations."""
    ops_per_op = BULK

    def __init__(self, m, prefix):
        self.lst = m.named_list(prefix + ".list")
        self.items = list(range(BULK))

    def op(self, i):
        if i % 100 == 99:
            self.lst[:] = []
        self.lst.extend(self.items)
        return True


class BulkUpdate(Workload):
    """d.update() of BULK entries, from 10 sets of keys in turn."""
    ops_per_op = BULK

    def __init__(self, m, prefix):
        self.d = m.named_dict(prefix + ".dict")
        self.sets = [{"key%d" % (s * BULK + k): k for k in range(BULK)} for s in range(10)]

    def op(self, i):
        self.d.update(self.sets[i % 10])
        return True


def make_workload(m, name, prefix, index, clients):
    if name == "list_append":
        return ListAppend(m, prefix)
    if name == "dict_set":
        return DictSet(m, prefix)
    if name == "dict_get":
        return DictGet(m, prefix, index == 0)
    if name == "value_add":
        return ValueAdd(m, prefix)
    if name == "lock_acquire_release":
        return LockCycle(m, prefix)
    if name == "queue_put_get":
        return QueueCycle(m, prefix)
    if name == "event_round_trip":
        return EventRoundTrip(m, "%s.c%d" % (prefix, index))
    if name == "barrier_wait":
        return BarrierWait(m, prefix, index, clients)
    if name == "bulk_extend":
        return BulkExtend(m, prefix)
    if name == "bulk_update":
        return BulkUpdate(m, prefix)
    raise ValueError("unknown workload: " + name)


def run_for(workload, seconds):
    latencies = []
    start = monotonic_ns()
    deadline = start + int(seconds * 1e9)
    end = start
    ops = 0
    i = 0
    op = workload.op
    per_op = workload.ops_per_op
    while True:
        t0 = monotonic_ns()
        if t0 >= deadline:
            break
        if not op(i):
            break
        end = monotonic_ns()
        latencies.append(end - t0)
        ops += per_op
        i += 1
    workload.finish()
    return json.dumps({"ops": ops, "t_start": start / 1e9, "t_end": end / 1e9,
                       "hist": histogram(latencies)})


def run_client(address, key_file, index, clients):
    m = connect(address, key_file)
    warm = m.named_Value("warm", "q", 0)
    for _ in range(100):
        warm.value
    emit("connected")
    workload, seconds = None, 0.0
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "setup":
            workload = None
            workload = make_workload(m, words[1], words[2], index, clients)
            seconds = float(words[3])
            emit("ready")
        elif words[0] == "go":
            emit(run_for(workload, seconds))
            workload = None
        elif words[0] == "quit":
            break
        else:
            raise ValueError("unknown command: " + line)


def wait_for_line(expected):
    for line in sys.stdin:
        if line.strip() == expected:
            return


def run_waiters(address, key_file, event_name, count):
    m = connect(address, key_file)
    event = m.named_Event(event_name)
    emit("connected")
    wait_for_line("park")
    returned = [0] * count
    connected = threading.Semaphore(0)

    def waiter(i):
        try:
            event.is_set()  # opens this thread's connection
            connected.release()
            if event.wait(120.0):
                returned[i] = monotonic_ns()
        except BaseException as e:
            sys.stderr.write("python_client: waiter: %r\n" % (e,))
            connected.release()

    # One thread connects at a time: the manager's listener has a backlog of
    # 16, and a burst of hundreds of connects stalls on it.
    threads = [threading.Thread(target=waiter, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
        if not connected.acquire(timeout=60.0):
            raise RuntimeError("a waiter did not connect")
    emit("issued")
    for t in threads:
        t.join(150.0)
    woken = [t for t in returned if t]
    emit(json.dumps({"woken": len(woken),
                     "first_return": min(woken) / 1e9 if woken else 0,
                     "last_return": max(woken) / 1e9 if woken else 0}))
    wait_for_line("quit")


def run_waker(address, key_file, event_name):
    m = connect(address, key_file)
    event = m.named_Event(event_name)
    emit("parked")
    wait_for_line("go")
    t_set = monotonic()
    event.set()
    emit(json.dumps({"t_set": t_set}))
    wait_for_line("quit")


def run_wakeup(address, key_file, trials):
    """A thread with its own connection is parked in get(); Python's manager
    cannot say when a call waits, so the main thread lets 5 ms pass after the
    thread announced its get before it puts."""
    m = connect(address, key_file)
    q = m.named_Queue("wakeup.queue")
    announced = threading.Semaphore(0)
    returned = threading.Semaphore(0)
    returned_at = [0]

    def getter():
        for _ in range(trials):
            announced.release()
            q.get(True, CALL_TIMEOUT)
            returned_at[0] = monotonic_ns()
            returned.release()

    t = threading.Thread(target=getter, daemon=True)
    t.start()
    latencies = []
    for i in range(trials):
        if not announced.acquire(timeout=CALL_TIMEOUT):
            raise RuntimeError("the getter did not come back")
        time.sleep(0.005)
        t0 = monotonic_ns()
        q.put(i)
        if not returned.acquire(timeout=CALL_TIMEOUT):
            raise RuntimeError("the parked getter did not return")
        latencies.append(returned_at[0] - t0)
    t.join(CALL_TIMEOUT)
    emit(json.dumps({"trials": trials, "hist": histogram(latencies)}))


def main():
    mode, address, key_file = sys.argv[1], sys.argv[2], sys.argv[3]
    try:
        if mode == "client":
            run_client(address, key_file, int(sys.argv[4]), int(sys.argv[5]))
        elif mode == "waiters":
            run_waiters(address, key_file, sys.argv[4], int(sys.argv[5]))
        elif mode == "waker":
            run_waker(address, key_file, sys.argv[4])
        elif mode == "wakeup":
            run_wakeup(address, key_file, int(sys.argv[4]))
        else:
            raise ValueError("unknown mode: " + mode)
    except BrokenPipeError:
        return 1
    except Exception as e:
        sys.stderr.write("python_client %s: %r\n" % (mode, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
