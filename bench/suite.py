#!/usr/bin/env python3
"""The benchmark suite's driver: shoal-server beside Python's manager and Redis.

bench/run.sh builds the client programs and runs this. It starts each server
on loopback (127.0.0.1, or unix sockets in a private temporary folder), runs
the same workloads against each from separate client processes (one process
per client: bench/shoal_bench, bench/python_client.py, bench/redis_bench),
measures parked waiters and wake-ups, prints a table with the ratios, and
writes the results as JSON, the generated part of docs/performance.md and the
plot docs/performance-clients.png.

A cell is one workload, one system, one transport and a number of client
processes. The driver starts the clients, sends each "setup", waits until all
are ready, sends "go" to all at once, and collects one result line from each
(bench/bench_client.h describes the exchange). Aggregate throughput is the
sum of the clients' operations over the span from the first client's start to
the last one's end; p50 and p99 are taken over every operation of every
client; server CPU time per operation is the server process's user+system
time (/proc/PID/stat) from "go" to the last result, over the operations.

Adding a workload: a name in WORKLOADS below, and the same name in each
client program's factory (shoal_bench.cc RunClient, python_client.py
make_workload, redis_bench.cc RunClient). A system that has no counterpart
reports it as n/a: leave its entry in WORKLOADS None.
"""
import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import secrets
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN_MARK = "<!-- bench:begin -->"
END_MARK = "<!-- bench:end -->"

# name -> what one operation is, for each system. None: no counterpart.
WORKLOADS = {
    "list_append": {
        "shoal": "`ListProxy::append(i)`",
        "python": "`lst.append(i)`",
        "redis": "`RPUSH`",
    },
    "dict_set": {
        "shoal": "`DictProxy::set(key, i)`",
        "python": "`d[key] = i`",
        "redis": "`HSET`",
    },
    "dict_get": {
        "shoal": "`DictProxy::get(key)`",
        "python": "`d.get(key)`",
        "redis": "`HGET`",
    },
    "value_add": {
        "shoal": "`ValueProxy::add(1)`, one atomic call",
        "python": "`v.value = v.value + 1`: two calls, not atomic (Python's Value has no add)",
        "redis": "`INCR`",
    },
    "lock_acquire_release": {
        "shoal": "`acquire()`, `release()`",
        "python": "`acquire()`, `release()`",
        "redis": "`SET key token NX` retried until it succeeds, then `DEL`",
    },
    "queue_put_get": {
        "shoal": "`put(i)`, `get()`",
        "python": "`put(i)`, `get()`",
        "redis": "`LPUSH`, then `RPOP`",
    },
    "event_round_trip": {
        "shoal": "set A, wait B, clear B; a partner session: wait A, clear A, set B",
        "python": "the same protocol; the partner thread has its own connection",
        "redis": "`LPUSH ping`, `BRPOP pong`; a partner connection: `BRPOP ping`, `LPUSH pong`",
    },
    "barrier_wait": {
        "shoal": "`BarrierProxy::wait()`, groups of min(8, clients) parties",
        "python": "`barrier.wait()`, the same groups",
        "redis": "emulated (no barrier in Redis): `INCR` of the arrival count, then `BLPOP` on "
                 "the generation's list, which the last party fills with `RPUSH`",
    },
    # Pipelined and bulk work: one client, over TCP (ONE_CLIENT). An operation
    # is one call (or one element of a bulk call); ops/s count those.
    "pipelined_append": {
        "shoal": "1,000 `list.async().append(i)`, then their Futures",
        "python": None,
        "redis": "1,000 `RPUSH` pipelined, then their replies",
    },
    "batched_dict_set": {
        "shoal": "1,000 `dict.async(batch).set(key, i)`, `batch.send()`, then their Futures",
        "python": None,
        "redis": "1,000 `HSET` pipelined, then their replies",
    },
    "bulk_extend": {
        "shoal": "`list.extend()` of 1,000 ints (cleared every 100 calls); ops are elements",
        "python": "`lst.extend()` of 1,000 ints, the same",
        "redis": "`RPUSH` of 1,000 values (`DEL` every 100 calls)",
    },
    "bulk_update": {
        "shoal": "`dict.update()` of 1,000 entries, 10 sets of keys in turn; ops are elements",
        "python": "`d.update()` of 1,000 entries, the same",
        "redis": "`HSET` of 1,000 fields, the same",
    },
}

# Workloads run with one client over TCP only, and what they are held to:
# the sequential workload of Python's they must beat 10 times, or None for
# the 1 million element operations per second of bulk work.
ONE_CLIENT = {
    "pipelined_append": "list_append",
    "batched_dict_set": "dict_set",
    "bulk_extend": None,
    "bulk_update": None,
}

SYSTEMS = ("shoal", "python", "redis")

# The workloads whose throughput against clients the plot shows.
PLOTTED = ("dict_get", "value_add", "lock_acquire_release", "queue_put_get",
           "event_round_trip", "barrier_wait")


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- processes

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """In the child: SIGTERM when the driver dies, however it dies."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class Proc:
    """A child process with line-based stdin and stdout; stderr to a log."""

    live = []  # every Proc started and not yet reaped, for cleanup

    def __init__(self, name, argv, logdir, env=None):
        self.name = name
        self.log_path = os.path.join(logdir, name + ".log")
        self._log = open(self.log_path, "wb")
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self._log, bufsize=0, preexec_fn=_die_with_parent,
                                  env=None if env is None else dict(os.environ, **env))
        Proc.live.append(self)
        self.fd = self.p.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.buf = b""
        self.eof = False

    @property
    def pid(self):
        return self.p.pid

    def send(self, line):
        try:
            self.p.stdin.write((line + "\n").encode())
        except BrokenPipeError:
            raise BenchError("%s exited early\n%s" % (self.name, self.log_tail()))

    def take_line(self):
        if b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            return line.decode()
        return None

    def fill(self):
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        if not data:
            self.eof = True
        self.buf += data

    def log_tail(self, n=20):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
            return "\n".join("  " + x for x in lines[-n:])
        except OSError:
            return ""

    def stop(self, grace=3.0):
        if self.p.poll() is None:
            try:
                self.p.stdin.close()
            except OSError:
                pass
            try:
                self.p.send_signal(signal.SIGTERM)
            except OSError:
                pass
            try:
                self.p.wait(grace)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        self._log.close()
        self.p.stdout.close()
        if self in Proc.live:
            Proc.live.remove(self)

    def close_gracefully(self, timeout=10.0):
        """Sends quit and waits for the exit; stops it the hard way after."""
        try:
            self.send("quit")
            self.p.stdin.close()
        except (BenchError, OSError):
            pass
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        self.stop()


def read_lines(procs, timeout, what):
    """One line from each process, in order; BenchError past the deadline."""
    deadline = time.monotonic() + timeout
    lines = [None] * len(procs)
    pending = set(range(len(procs)))
    sel = selectors.DefaultSelector()
    try:
        for i, p in enumerate(procs):
            line = p.take_line()
            if line is not None:
                lines[i] = line
                pending.discard(i)
            else:
                sel.register(p.fd, selectors.EVENT_READ, i)
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                late = procs[min(pending)]
                raise BenchError("%s: %d of %d processes gave no line in %.0f s; %s:\n%s" % (
                    what, len(pending), len(procs), timeout, late.name, late.log_tail()))
            for key, _ in sel.select(min(left, 1.0)):
                i = key.data
                p = procs[i]
                p.fill()
                line = p.take_line()
                if line is not None:
                    lines[i] = line
                    pending.discard(i)
                    sel.unregister(p.fd)
                elif p.eof:
                    raise BenchError("%s: %s exited (status %s):\n%s" % (
                        what, p.name, p.p.wait(), p.log_tail()))
    finally:
        sel.close()
    return lines


def expect(procs, word, timeout, what):
    for p, line in zip(procs, read_lines(procs, timeout, what)):
        if not line.startswith(word):
            raise BenchError("%s: %s said %r, not %r:\n%s" % (what, p.name, line, word, p.log_tail()))


def stop_all():
    for p in list(Proc.live):
        try:
            p.stop()
        except Exception:  # keep stopping the others
            pass


# ---------------------------------------------------------------- /proc

def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Threads", "VmRSS"):
                out[k] = int(v.split()[0])
    return {"threads": out["Threads"], "rss_kib": out["VmRSS"]}


class PeakSampler:
    """Samples a process's threads and RSS every 20 ms, keeping the peaks."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = proc_status(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.02):
            try:
                now = proc_status(self.pid)
            except (OSError, KeyError):
                return
            for k in now:
                self.peak[k] = max(self.peak[k], now[k])

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        return self.peak


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- servers

class Servers:
    """Starts one server of a system on a transport and gives clients' argv."""

    def __init__(self, build, tmp, server_bin=None):
        self.build = build
        self.server_bin = server_bin or os.path.join(build, "server", "shoal-server")
        self.tmp = tmp
        self.key = os.path.join(tmp, "authkey")
        with open(self.key, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        os.chmod(self.key, 0o600)
        self.redis_password = os.path.join(tmp, "redis-password")
        with open(self.redis_password, "w") as f:
            f.write(secrets.token_hex(24) + "\n")
        self.count = 0

    def _name(self, what):
        self.count += 1
        return "%02d-%s" % (self.count, what)

    def tls_files(self):
        """A CA and a server certificate it signed (for 127.0.0.1), made once with the
        openssl command; returns (ca, cert, key) paths."""
        ca, cert, key = (os.path.join(self.tmp, n) for n in ("tls-ca.pem", "tls-server.pem",
                                                             "tls-server.key"))
        if not os.path.exists(cert):
            ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
            run = lambda argv: subprocess.run(argv, cwd=self.tmp, check=True,
                                              capture_output=True)
            run(["openssl", "req", "-x509"] + ec + ["-days", "2", "-subj", "/CN=bench CA",
                                                    "-keyout", "tls-ca.key", "-out", ca])
            run(["openssl", "req", "-new"] + ec + ["-subj", "/CN=localhost", "-keyout", key,
                                                   "-out", "tls-server.csr"])
            with open(os.path.join(self.tmp, "tls-server.ext"), "w") as f:
                f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
            run(["openssl", "x509", "-req", "-in", "tls-server.csr", "-CA", ca, "-CAkey",
                 "tls-ca.key", "-CAcreateserial", "-days", "2", "-extfile", "tls-server.ext",
                 "-out", cert])
        return ca, cert, key

    def start(self, system, transport, tls=False):
        """Returns (Proc, address)."""
        name = self._name("%s-server-%s%s" % (system, transport, "-tls" if tls else ""))
        if system == "shoal":
            listen = ("127.0.0.1:0" if transport == "tcp"
                      else "unix:" + os.path.join(self.tmp, name + ".sock"))
            extra = []
            if tls:
                _, cert, key = self.tls_files()
                extra = ["--tls-cert-file=" + cert, "--tls-key-file=" + key]
            p = Proc(name, [self.server_bin,
                            "--listen=" + listen, "--authkey-file=" + self.key] + extra,
                     self.tmp)
            # The server tells its limits (descriptors, connections) before
            # it says where it listens.
            line = read_lines([p], 30, "starting shoal-server")[0]
            for _ in range(10):
                if "listening on" in line:
                    break
                line = read_lines([p], 30, "starting shoal-server")[0]
            m = re.search(r"listening on (\S+)", line)
            if not m:
                raise BenchError("shoal-server said %r:\n%s" % (line, p.log_tail()))
            address = m.group(1)
            if transport == "unix" and not address.startswith("unix:"):
                address = "unix:" + address
            return p, address
        if system == "python":
            address = ("127.0.0.1:%d" % free_port() if transport == "tcp"
                       else "unix:" + os.path.join(self.tmp, name + ".sock"))
            p = Proc(name, [sys.executable, os.path.join(ROOT, "bench", "python_manager.py"),
                            address, self.key], self.tmp)
            expect([p], "ready", 30, "starting Python's manager")
            return p, address
        if system == "redis":
            conf = os.path.join(self.tmp, name + ".conf")
            with open(self.redis_password) as f:
                password = f.read().strip()
            lines = ["bind 127.0.0.1", "protected-mode yes", 'save ""', "appendonly no",
                     "dir " + self.tmp, "logfile " + os.path.join(self.tmp, name + ".log"),
                     "requirepass " + password, "maxclients 1000"]
            if transport == "tcp":
                port = free_port()
                lines.append("port %d" % port)
                address = "127.0.0.1:%d" % port
                target = (socket.AF_INET, ("127.0.0.1", port))
            else:
                sock = os.path.join(self.tmp, name + ".sock")
                lines += ["port 0", "unixsocket " + sock, "unixsocketperm 700"]
                address = "unix:" + sock
                target = (socket.AF_UNIX, sock)
            with open(conf, "w") as f:
                f.write("\n".join(lines) + "\n")
            p = Proc(name + "-stderr", ["redis-server", conf], self.tmp)
            for _ in range(300):  # up to 30 s
                with socket.socket(target[0], socket.SOCK_STREAM) as probe:
                    try:
                        probe.connect(target[1])
                        return p, address
                    except OSError:
                        pass
                if p.p.poll() is not None:
                    break
                time.sleep(0.1)
            raise BenchError("redis-server did not get ready:\n" + p.log_tail())
        raise ValueError(system)

    def client_argv(self, system, mode, address, *args):
        args = [str(a) for a in args]
        if system == "shoal":
            return [os.path.join(self.build, "bench", "shoal_bench"), mode, address, self.key] + args
        if system == "python":
            return [sys.executable, os.path.join(ROOT, "bench", "python_client.py"), mode,
                    address, self.key] + args
        return [os.path.join(self.build, "bench", "redis_bench"), mode, address,
                self.redis_password] + args


# ---------------------------------------------------------------- histograms

def merge_hist(results):
    merged = {}
    for r in results:
        for bucket, count in r["hist"]:
            merged[bucket] = merged.get(bucket, 0) + count
    return sorted(merged.items())


def percentile_us(hist, q):
    total = sum(c for _, c in hist)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for bucket, count in hist:
        seen += count
        if seen >= rank:
            return 2 ** ((bucket + 0.5) / 32.0) / 1000.0  # the bucket's middle
    return 2 ** ((hist[-1][0] + 0.5) / 32.0) / 1000.0


# ---------------------------------------------------------------- cells

def run_cell(clients, server_pid, workload, prefix, seconds):
    # Set up in waves of 4: a Python proxy's creation opens new connections,
    # and the manager's listener (backlog 16) stalls on a burst of them.
    for first in range(0, len(clients), 4):
        wave = clients[first:first + 4]
        for c in wave:
            c.send("setup %s %s %s" % (workload, prefix, seconds))
        expect(wave, "ready", 120, "setting up %s" % prefix)
    cpu0 = cpu_seconds(server_pid)
    client_cpu0 = sum(cpu_seconds(c.p.pid) for c in clients)
    for c in clients:
        c.send("go")
    lines = read_lines(clients, seconds + 120, "running %s" % prefix)
    cpu1 = cpu_seconds(server_pid)
    client_cpu1 = sum(cpu_seconds(c.p.pid) for c in clients)
    results = [json.loads(x) for x in lines]
    ops = sum(r["ops"] for r in results)
    span = max(r["t_end"] for r in results) - min(r["t_start"] for r in results)
    hist = merge_hist(results)
    return {
        "hist": hist,
        "ops": ops,
        "seconds": span,
        "ops_per_s": ops / span if span > 0 and ops else 0.0,
        "p50_us": percentile_us(hist, 0.50),
        "p99_us": percentile_us(hist, 0.99),
        "server_cpu_s": cpu1 - cpu0,
        "server_cpu_us_per_op": (cpu1 - cpu0) * 1e6 / ops if ops else None,
        # The clients' processes, over the same span (their setup and the
        # driver's lines are outside it).
        "client_cpu_us_per_op": (client_cpu1 - client_cpu0) * 1e6 / ops if ops else None,
    }


def set_affinity(pid, cpus):
    """Every thread of process pid to run on cpus only (threads it starts
    later inherit it); False when that could not be done."""
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return False
    for tid in tids:
        try:
            os.sched_setaffinity(int(tid), cpus)
        except ProcessLookupError:
            pass  # a thread that ended meanwhile
        except OSError:
            return False
    return True


def one_client_placement():
    """(server's cpus, client's cpus) for the one-client cells of call after
    call (not the pipelined and bulk ones, whose client and server work at
    once): two different cores, or None on a one-core machine. A lone
    client's calls are a ping-pong between two processes, and where the
    scheduler puts them decides their speed: on one core a call costs about
    a third less than across two (no wake-up of an idle core). Left to the
    scheduler, each cell is a draw between the two, and a system that drew
    the same core looked a third faster; pinned, every system gets the same
    placement, the one of a server and its clients on different cores or
    hosts."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return {cpus[0]}, {cpus[1]}


def combine_rounds(rounds):
    """One system's cell from its rounds (run_cell's results): throughput is
    the median round's, so that a round the machine's load slowed or sped
    does not decide it; latency percentiles are over every operation of every
    round; CPU per operation over all the rounds' operations."""
    ops = sum(r["ops"] for r in rounds)
    hist = merge_hist(rounds)
    server_cpu = sum(r["server_cpu_s"] for r in rounds)
    client_cpu = sum((r["client_cpu_us_per_op"] or 0) * r["ops"] for r in rounds)
    return {
        "ops": ops,
        "seconds": sum(r["seconds"] for r in rounds),
        "ops_per_s": statistics.median(r["ops_per_s"] for r in rounds),
        "rounds_ops_per_s": [r["ops_per_s"] for r in rounds],
        "p50_us": percentile_us(hist, 0.50),
        "p99_us": percentile_us(hist, 0.99),
        "server_cpu_s": server_cpu,
        "server_cpu_us_per_op": server_cpu * 1e6 / ops if ops else None,
        "client_cpu_us_per_op": client_cpu / ops if ops else None,
    }


def run_transport(servers, transport, client_counts, workloads, seconds, rounds, pin, systems,
                  log):
    cells = []
    started = {}
    try:
        for system in systems:
            started[system] = servers.start(system, transport)
        for n in client_counts:
            groups = {}
            try:
                for system in systems:
                    _, address = started[system]
                    groups[system] = []
                    # In waves of 8 that have connected before the next starts:
                    # Python's manager listens with a backlog of 16, and a
                    # burst of 64 connects stalls on it for minutes.
                    for first in range(0, n, 8):
                        wave = [Proc(servers._name("%s-%s-%dc-%d" % (system, transport, n, i)),
                                     servers.client_argv(system, "client", address, i, n),
                                     servers.tmp)
                                for i in range(first, min(n, first + 8))]
                        groups[system] += wave
                        expect(wave, "connected", 120, "connecting %s clients" % system)
                placement = one_client_placement() if n == 1 and pin else None
                everywhere = os.sched_getaffinity(0)

                def place(workload):
                    """Pins the group for a one-client call-by-call workload
                    (a ping-pong, see one_client_placement); leaves it to the
                    scheduler otherwise. Whether the cell is pinned."""
                    if placement is None:
                        return False
                    want = workload not in ONE_CLIENT
                    done = True
                    for system in systems:
                        done = set_affinity(started[system][0].pid,
                                            placement[0] if want else everywhere) and done
                        for c in groups[system]:
                            done = set_affinity(c.pid, placement[1] if want else everywhere) and done
                    if want and not done:
                        log("  pinning FAILED: %s with one client left to the scheduler" % workload)
                    return want and done
                # An untimed cell first, on every system alike: the first cell
                # after a start pays for the first touches of the server's and
                # the clients' memory (page faults are dear on a virtual
                # machine), which would otherwise fall on whichever workload
                # comes first.
                runnable = [w for w in workloads
                            if not (w in ONE_CLIENT and (n != 1 or transport != "tcp"))]
                if runnable:
                    place(runnable[0])
                    for system in systems:
                        if WORKLOADS[runnable[0]].get(system) is None:
                            continue
                        server_proc, _ = started[system]
                        run_cell(groups[system], server_proc.pid, runnable[0],
                                 "warmup.%s.%s.%d" % (runnable[0], transport, n),
                                 min(0.5, seconds))
                for workload in workloads:
                    if workload in ONE_CLIENT and (n != 1 or transport != "tcp"):
                        continue
                    measured = [s for s in systems if WORKLOADS[workload].get(s) is not None]
                    pinned = place(workload)
                    # The systems take turns round by round, in an order that
                    # turns around each round (A B C, C B A, A B C...), so
                    # that a drift of the machine's load falls on all alike.
                    parts = {system: [] for system in measured}
                    for r in range(rounds):
                        for system in (measured if r % 2 == 0 else measured[::-1]):
                            prefix = "%s.%s.%d.%d" % (workload, transport, n, r)
                            server_proc, _ = started[system]
                            parts[system].append(run_cell(groups[system], server_proc.pid,
                                                          workload, prefix, seconds))
                    for system in measured:
                        cell = combine_rounds(parts[system])
                        cell.update(workload=workload, system=system, transport=transport,
                                    clients=n, pinned=pinned)
                        cells.append(cell)
                        log("  %-22s %-4s %2d clients %-6s %9.0f ops/s  p50 %8.1f us  p99 %8.1f us"
                            "  CPU us/op server %.2f clients %.2f"
                            % (workload, transport, n, system, cell["ops_per_s"],
                               cell["p50_us"] or 0, cell["p99_us"] or 0,
                               cell["server_cpu_us_per_op"] or 0,
                               cell["client_cpu_us_per_op"] or 0))
            finally:
                for group in groups.values():
                    for c in group:
                        c.close_gracefully()
                if n == 1 and pin:
                    for system in started:
                        set_affinity(started[system][0].pid, os.sched_getaffinity(0))
    finally:
        for p, _ in started.values():
            p.stop()
    return cells


# ---------------------------------------------------------------- TLS

def run_tls(servers, seconds, log):
    """The cost of TLS per call: one client's dict get on each carrier of the
    session stream, against a server without TLS and one with, in turn."""
    cells = []
    for carrier in ("framed", "grpc"):
        for tls in (False, True):
            server, address = servers.start("shoal", "tcp", tls=tls)
            env = {"SHOAL_TRANSPORT": carrier}
            if tls:
                env["SHOAL_TLS_CA_FILE"] = servers.tls_files()[0]
            try:
                name = servers._name("shoal-tls-%s-%s" % (carrier, "on" if tls else "off"))
                client = Proc(name, servers.client_argv("shoal", "client", address, 0, 1),
                              servers.tmp, env=env)
                try:
                    expect([client], "connected", 120, "connecting a client")
                    prefix = "dict_get.tls.%s.%s" % (carrier, "on" if tls else "off")
                    cell = run_cell([client], server.pid, "dict_get", prefix, seconds)
                    del cell["hist"]
                finally:
                    client.close_gracefully()
            finally:
                server.stop()
            cell.update(carrier=carrier, tls=tls)
            cells.append(cell)
            log("  dict_get %-6s TLS %-3s %9.0f ops/s  p50 %8.1f us  p99 %8.1f us"
                % (carrier, "on" if tls else "off", cell["ops_per_s"], cell["p50_us"] or 0,
                   cell["p99_us"] or 0))
    return cells


TLS_HEADER = ["carrier", "ops/s plain", "ops/s TLS", "TLS/plain", "p50 plain", "p50 TLS",
              "TLS adds (p50)"]


def tls_rows(cells):
    rows = []
    for carrier in ("framed", "grpc"):
        plain = next((c for c in cells if c["carrier"] == carrier and not c["tls"]), None)
        tls = next((c for c in cells if c["carrier"] == carrier and c["tls"]), None)
        if plain is None or tls is None:
            continue
        rows.append([carrier, fmt_rate(plain["ops_per_s"]), fmt_rate(tls["ops_per_s"]),
                     fmt_ratio(tls["ops_per_s"], plain["ops_per_s"]),
                     "%.0f us" % plain["p50_us"], "%.0f us" % tls["p50_us"],
                     "%+.0f us" % (tls["p50_us"] - plain["p50_us"])])
    return rows


# ---------------------------------------------------------------- waiters

def run_waiters(servers, system, processes, per_process, log):
    """Parks processes*per_process waits on one Event of a fresh server; the
    server's threads and memory before and while they wait; the time from the
    set to the last return."""
    total = processes * per_process
    server, address = servers.start(system, "tcp")
    procs = []
    try:
        fresh = proc_status(server.pid)
        event = "waiters.event"
        waker = Proc(servers._name("%s-waker" % system),
                     servers.client_argv(system, "waker", address, event,
                                         *([total] if system == "shoal" else [])), servers.tmp)
        procs.append(waker)
        waiters = [Proc(servers._name("%s-waiters-%d" % (system, i)),
                        servers.client_argv(system, "waiters", address, event, per_process),
                        servers.tmp) for i in range(processes)]
        procs += waiters
        expect(waiters, "connected", 120, "connecting the waiters")
        time.sleep(0.5)
        connected = proc_status(server.pid)
        sampler = PeakSampler(server.pid)
        t0 = time.monotonic()
        for w in waiters:
            w.send("park")
        expect(waiters, "issued", 300, "parking the waiters")
        # shoal's waker confirms on the server's own count of waiting calls;
        # Python's manager has none, so its waits get a second to arrive.
        expect([waker], "parked", 300, "waiting for the waiters to park")
        if system != "shoal":
            time.sleep(1.0)
        park_seconds = time.monotonic() - t0
        time.sleep(0.5)
        parked = proc_status(server.pid)
        waker.send("go")
        t_set = json.loads(read_lines([waker], 60, "setting the event")[0])["t_set"]
        results = [json.loads(x) for x in read_lines(waiters, 200, "waking the waiters")]
        woken = sum(r["woken"] for r in results)
        last = max(r["last_return"] for r in results)
        after = proc_status(server.pid)
        peak = sampler.stop()
        out = {
            "system": system, "waiters": total, "processes": processes,
            "fresh": fresh, "connected": connected, "parked": parked, "after_wake": after,
            "peak": peak,
            "park_seconds": park_seconds,
            "bytes_per_waiter": (parked["rss_kib"] - connected["rss_kib"]) * 1024.0 / total,
            "woken": woken,
            "wake_all_ms": (last - t_set) * 1000.0 if woken else None,
        }
        log("  %-6s %6d waiters: server threads %d -> %d (peak %d), %.0f bytes each, "
            "all woken in %.1f ms" % (system, total, connected["threads"], parked["threads"],
                                      peak["threads"], out["bytes_per_waiter"],
                                      out["wake_all_ms"] or -1))
        if woken != total:
            raise BenchError("%s: only %d of %d waiters woke" % (system, woken, total))
        return out
    finally:
        for p in procs:
            p.close_gracefully(5)
        server.stop()


def run_wakeup(servers, system, trials):
    server, address = servers.start(system, "tcp")
    try:
        p = Proc(servers._name("%s-wakeup" % system),
                 servers.client_argv(system, "wakeup", address, trials), servers.tmp)
        try:
            r = json.loads(read_lines([p], 120, "wake-up latency")[0])
        finally:
            p.close_gracefully(5)
        hist = [tuple(x) for x in r["hist"]]
        return {"system": system, "trials": r["trials"], "p50_us": percentile_us(hist, 0.5),
                "p99_us": percentile_us(hist, 0.99)}
    finally:
        server.stop()


def run_scale(servers, held, seconds, log):
    """A plain call's latency on a server holding `held` objects, quiet and
    while another client makes and drops objects, and Describe's."""
    server, address = servers.start("shoal", "tcp")
    try:
        p = Proc(servers._name("shoal-scale"),
                 servers.client_argv("shoal", "scale", address, held, seconds), servers.tmp)
        try:
            line = read_lines([p], 600, "making %d objects" % held)[0]
            if not line.startswith("held"):
                raise BenchError("scale: %r" % line)
            rss_held = proc_status(server.pid)["rss_kib"]
            p.send("go")
            r = json.loads(read_lines([p], 60 + 4 * seconds, "scale latencies")[0])
        finally:
            p.close_gracefully(30)
        out = {"held": r["held"], "make_s": r["make_s"], "rss_held_kib": rss_held,
               "churned_per_s": r["churned"] / r["seconds"]}
        for phase in ("quiet", "churn", "describe"):
            hist = [tuple(x) for x in r[phase]]
            out[phase] = {"p50_us": percentile_us(hist, 0.5), "p99_us": percentile_us(hist, 0.99),
                          "max_us": percentile_us(hist, 1.0)}
        log("  %d objects held: add p50 %.0f us quiet, %.0f us with churn (p99 %.0f us, "
            "%.0f objects/s churned); Describe p50 %.0f us"
            % (out["held"], out["quiet"]["p50_us"], out["churn"]["p50_us"],
               out["churn"]["p99_us"], out["churned_per_s"], out["describe"]["p50_us"]))
        return out
    finally:
        server.stop()


# The kinds whose memory per empty object the suite reports: a list, a dict
# and a Queue each keep their items in storage of their own.
MEMORY_KINDS = ("list", "dict", "Queue")


def run_memory(servers, count, kind, log):
    """The server's memory per empty object of kind, with `count` held."""
    server, address = servers.start("shoal", "tcp")
    try:
        p = Proc(servers._name("shoal-hold"),
                 servers.client_argv("shoal", "hold", address, 1, kind), servers.tmp)
        try:
            read_lines([p], 60, "one object")
            before = proc_status(server.pid)["rss_kib"]
        finally:
            p.close_gracefully(30)
        p = Proc(servers._name("shoal-hold"),
                 servers.client_argv("shoal", "hold", address, count, kind), servers.tmp)
        try:
            t0 = time.monotonic()
            read_lines([p], 1200, "making %d objects" % count)
            made_s = time.monotonic() - t0
            after = proc_status(server.pid)["rss_kib"]
        finally:
            p.close_gracefully(60)
        out = {"kind": kind, "objects": count, "rss_before_kib": before,
               "rss_after_kib": after, "bytes_per_object": (after - before) * 1024.0 / count,
               "make_s": made_s}
        log("  %d empty %ss: %.0f bytes each (server RSS %.0f -> %.0f MiB)"
            % (count, kind, out["bytes_per_object"], before / 1024.0, after / 1024.0))
        return out
    finally:
        server.stop()


def run_sessions(servers, total, processes, threads, seconds, log):
    """total sessions, spread over processes (a connection each), all calling
    Value.add for seconds (0: idle, connected only): the server's threads and
    memory per session, and calls per second."""
    server, address = servers.start("shoal", "tcp")
    per = max(1, total // processes)
    procs = []
    try:
        fresh = proc_status(server.pid)
        procs = [Proc(servers._name("shoal-sessions-%d" % i),
                      servers.client_argv("shoal", "sessions", address, per, threads, seconds),
                      servers.tmp) for i in range(processes)]
        sampler = PeakSampler(server.pid)
        t0 = time.monotonic()
        expect(procs, "connected", 600, "opening %d sessions" % (per * processes))
        connect_s = time.monotonic() - t0
        connected = proc_status(server.pid)
        cpu0 = cpu_seconds(server.pid)
        for p in procs:
            p.send("go")
        results = [json.loads(x) for x in read_lines(procs, seconds + 300, "calls on sessions")]
        cpu = cpu_seconds(server.pid) - cpu0
        peak = sampler.stop()
        sessions = sum(r["sessions"] for r in results)
        calls = sum(r["calls"] for r in results)
        took = max(r["seconds"] for r in results)
        idle = sum(r["idle_sessions"] for r in results)
        if seconds > 0 and idle:
            raise BenchError("sessions: %d of %d sessions made no call" % (idle, sessions))
        out = {"sessions": sessions, "processes": processes, "active": seconds > 0,
               "fresh": fresh, "connected": connected, "peak": peak, "connect_s": connect_s,
               "bytes_per_session": (connected["rss_kib"] - fresh["rss_kib"]) * 1024.0 / sessions,
               "calls": calls, "calls_per_s": calls / took if seconds > 0 else None,
               "cpu_us_per_call": cpu * 1e6 / calls if calls else None}
        log("  %6d %s sessions in %d processes: server threads %d -> %d (peak %d), "
            "%.0f bytes each%s"
            % (sessions, "active" if seconds > 0 else "idle", processes, fresh["threads"],
               connected["threads"], peak["threads"], out["bytes_per_session"],
               ", %.0f calls/s, %.1f us server CPU a call" % (out["calls_per_s"],
                                                             out["cpu_us_per_call"])
               if seconds > 0 else ""))
        return out
    finally:
        for p in procs:
            p.close_gracefully(30)
        server.stop()


# ---------------------------------------------------------------- reporting

def machine_info(build):
    def run(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "?"
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    redis = run(["redis-server", "--version"])
    m = re.search(r"v=(\S+)", redis)
    commit = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    if run(["git", "-C", ROOT, "status", "--porcelain", "--", "client", "server", "shared",
            "proto"]):
        commit += " with uncommitted changes to the library or server"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": run(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "python": platform.python_version(),
        "redis": m.group(1) if m else redis,
        "grpc": run(["pkg-config", "--modversion", "grpc++"]),
        "shoal_commit": commit,
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
    }


def fmt_rate(x):
    return "n/a" if x is None else "%.0f" % x


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    return "%.2fx" % (a / b)


def fmt_lat(cell):
    if cell is None or cell["p50_us"] is None:
        return "n/a"
    return "%.0f / %.0f" % (cell["p50_us"], cell["p99_us"])


def fmt_cpu(cell):
    if cell is None or cell["server_cpu_us_per_op"] is None:
        return "n/a"
    return "%.1f" % cell["server_cpu_us_per_op"]


def index_cells(cells):
    return {(c["workload"], c["transport"], c["clients"], c["system"]): c for c in cells}


def table_rows(cells):
    idx = index_cells(cells)
    keys = []
    for c in cells:
        k = (c["workload"], c["transport"], c["clients"])
        if k not in keys:
            keys.append(k)
    order = {w: i for i, w in enumerate(WORKLOADS)}
    keys.sort(key=lambda k: (k[1] != "tcp", order.get(k[0], 99), k[2]))
    rows = []
    for w, t, n in keys:
        s, p, r = (idx.get((w, t, n, x)) for x in SYSTEMS)
        rate = lambda c: c["ops_per_s"] if c else None  # noqa: E731
        rows.append([w + (" (emulated)" if w == "barrier_wait" and r else ""), t, str(n),
                     fmt_rate(rate(s)), fmt_rate(rate(p)), fmt_rate(rate(r)),
                     fmt_ratio(rate(s), rate(p)), fmt_ratio(rate(s), rate(r)),
                     fmt_lat(s), fmt_lat(p), fmt_lat(r),
                     fmt_cpu(s), fmt_cpu(p), fmt_cpu(r)])
    return rows


HEADER = ["workload", "transport", "clients", "shoal ops/s", "python ops/s", "redis ops/s",
          "shoal/python", "shoal/redis", "shoal p50/p99 us", "python p50/p99 us",
          "redis p50/p99 us", "shoal CPU us/op", "python CPU us/op", "redis CPU us/op"]


def text_table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    out = []
    for i, row in enumerate([header] + rows):
        out.append("  ".join(str(x).rjust(w) if j else str(x).ljust(w)
                             for j, (x, w) in enumerate(zip(row, widths))))
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return "\n".join(out)


# The workloads of one call per operation on shoal and on Redis alike: the
# plain calls that the target against Redis is about. (The lock and the
# queue make two calls each on both; the Event round trip makes three calls a
# side on shoal and two on Redis, and Redis has no barrier.)
PLAIN_CALLS = ("list_append", "dict_set", "dict_get", "value_add")


def check_targets(cells, waiters):
    """[(target, subject, measured, met)]"""
    idx = index_cells(cells)
    checks = []
    for w in WORKLOADS:
        s, p = idx.get((w, "tcp", 1, "shoal")), idx.get((w, "tcp", 1, "python"))
        if s and p and p["ops_per_s"]:
            ratio = s["ops_per_s"] / p["ops_per_s"]
            checks.append(("1 client, TCP: shoal >= Python", w, "%.2fx" % ratio, ratio >= 1.0))
    for w, sequential in ONE_CLIENT.items():
        s = idx.get((w, "tcp", 1, "shoal"))
        if not s:
            continue
        if sequential is None:
            rate = s["ops_per_s"]
            checks.append(("bulk, 1 client: >= 1,000,000 element ops/s", w, "%.0f/s" % rate,
                           rate >= 1e6))
            continue
        p = idx.get((sequential, "tcp", 1, "python"))
        if p and p["ops_per_s"]:
            ratio = s["ops_per_s"] / p["ops_per_s"]
            checks.append(("pipelined, 1 client: shoal >= 10x Python's sequential", w,
                           "%.1fx (Python's %s)" % (ratio, sequential), ratio >= 10.0))
    for w in ONE_CLIENT:
        s, r = idx.get((w, "tcp", 1, "shoal")), idx.get((w, "tcp", 1, "redis"))
        if ONE_CLIENT[w] is not None and s and r and r["ops_per_s"]:
            ratio = s["ops_per_s"] / r["ops_per_s"]
            checks.append(("pipelined, 1 client: shoal >= 0.5x Redis's pipeline", w,
                           "%.2fx" % ratio, ratio >= 0.5))
    for transport in ("tcp", "unix"):
        for n in (1, 8):
            for w in PLAIN_CALLS:
                s, r = idx.get((w, transport, n, "shoal")), idx.get((w, transport, n, "redis"))
                if s and r and r["ops_per_s"]:
                    ratio = s["ops_per_s"] / r["ops_per_s"]
                    checks.append(("plain calls, 1 and 8 clients, TCP and unix: shoal >= Redis",
                                   "%s %s %d" % (w, transport, n), "%.2fx" % ratio,
                                   ratio >= 1.0))
    for transport in ("tcp", "unix"):
        for n in (8, 64):
            for w in WORKLOADS:
                if w in ONE_CLIENT:
                    continue
                s, p = idx.get((w, transport, n, "shoal")), idx.get((w, transport, n, "python"))
                if s and p and p["ops_per_s"]:
                    ratio = s["ops_per_s"] / p["ops_per_s"]
                    checks.append(("%d clients, %s: shoal >= 3x Python" % (n, transport.upper()
                                                                              if transport == "tcp"
                                                                              else transport),
                                   w, "%.2fx" % ratio, ratio >= 3.0))
    for wt in waiters:
        if wt["system"] != "shoal":
            continue
        threads = max(wt["parked"]["threads"], wt["peak"]["threads"])
        checks.append(("%d parked waiters: <= 32 server threads" % wt["waiters"], "shoal",
                       str(threads), threads <= 32))
        checks.append(("%d parked waiters: <= 4 KiB server memory each" % wt["waiters"], "shoal",
                       "%.0f bytes" % wt["bytes_per_waiter"], wt["bytes_per_waiter"] <= 4096))
    return checks


def summarize_checks(checks):
    """Groups the checks by target: (target, met count, total, missed subjects)."""
    groups = []
    for target, subject, measured, met in checks:
        if not groups or groups[-1][0] != target:
            groups.append([target, 0, 0, []])
        g = groups[-1]
        g[2] += 1
        if met:
            g[1] += 1
        else:
            g[3].append("%s %s" % (subject, measured))
    return groups


def waiter_rows(waiters):
    rows = []
    for w in waiters:
        rows.append([w["system"], "%d" % w["waiters"], "%d" % w["processes"],
                     "%d" % w["fresh"]["threads"], "%d" % w["connected"]["threads"],
                     "%d" % w["parked"]["threads"], "%d" % w["peak"]["threads"],
                     "%.1f" % (w["connected"]["rss_kib"] / 1024.0),
                     "%.1f" % (w["parked"]["rss_kib"] / 1024.0),
                     "%.0f" % w["bytes_per_waiter"], "%.1f" % w["park_seconds"],
                     "%.1f" % w["wake_all_ms"] if w["wake_all_ms"] is not None else "n/a"])
    return rows


WAITER_HEADER = ["system", "waiters", "client processes", "server threads (fresh)",
                 "server threads (clients connected)", "server threads (all parked)",
                 "server threads (peak)",
                 "server RSS MiB (connected)", "server RSS MiB (parked)",
                 "server bytes per waiter", "seconds to park all", "set to last return ms"]

WAKEUP_HEADER = ["system", "trials", "p50 us", "p99 us"]

SCALE_HEADER = ["objects held", "Value.add p50/p99 us (quiet)",
                "Value.add p50/p99 us (churn)", "p50 churn/quiet", "objects churned/s",
                "Describe p50/max us", "server RSS MiB"]


def scale_rows(scales):
    rows = []
    for s in scales:
        q, c, d = s["quiet"], s["churn"], s["describe"]
        rows.append(["%d" % s["held"], "%.0f / %.0f" % (q["p50_us"], q["p99_us"]),
                     "%.0f / %.0f" % (c["p50_us"], c["p99_us"]),
                     "%.2fx" % (c["p50_us"] / q["p50_us"]), "%.0f" % s["churned_per_s"],
                     "%.0f / %.0f" % (d["p50_us"], d["max_us"]),
                     "%.0f" % (s["rss_held_kib"] / 1024.0)])
    return rows


MEMORY_HEADER = ["empty objects held", "server RSS MiB before", "after", "bytes per object",
                 "seconds to make"]


def memory_rows(memory):
    return [["%d %ss" % (m["objects"], m.get("kind", "list")),
             "%.0f" % (m["rss_before_kib"] / 1024.0),
             "%.0f" % (m["rss_after_kib"] / 1024.0), "%.0f" % m["bytes_per_object"],
             "%.1f" % m["make_s"]] for m in memory]


SESSIONS_HEADER = ["sessions", "client processes", "server threads (fresh / connected / peak)",
                   "bytes per session", "calls/s", "server CPU us per call"]


def sessions_rows(sessions):
    return [["%d %s" % (s["sessions"], "active" if s["active"] else "idle"), "%d" % s["processes"],
             "%d / %d / %d" % (s["fresh"]["threads"], s["connected"]["threads"],
                               s["peak"]["threads"]),
             "%.0f" % s["bytes_per_session"],
             fmt_rate(s["calls_per_s"]) if s["calls_per_s"] else "-",
             "%.1f" % s["cpu_us_per_call"] if s["cpu_us_per_call"] else "-"] for s in sessions]


def wakeup_rows(wakeups):
    return [[w["system"], str(w["trials"]), "%.0f" % w["p50_us"], "%.0f" % w["p99_us"]]
            for w in wakeups]


def cell_time(cfg):
    rounds = cfg.get("rounds", 1)
    if rounds == 1:
        out = "%.1f s per cell" % cfg["seconds"]
    else:
        out = ("each throughput cell %d rounds of %.1f s, the systems taking turns, "
               "the median round counted" % (rounds, cfg["seconds"]))
    if cfg.get("pinned"):
        out += ("; one-client cells of call after call pinned, server and client on "
                "different cores")
    return out[0].upper() + out[1:]


def render_markdown(data):
    info = data["machine"]
    cfg = data["config"]
    out = []
    out.append("Measured %s on %d cores (%s), %.0f GiB, %s, kernel %s; Python %s, "
               "Redis %s, gRPC %s; shoal at %s. Load average at the start: %s. "
               "%s; one process per client."
               % (info["date"], info["nproc"], info["cpu"], info["memory_gib"], info["os"],
                  info["kernel"], info["python"], info["redis"], info["grpc"],
                  info["shoal_commit"], " ".join(info["loadavg_start"]), cell_time(cfg)))
    out.append("")
    out.append("### Targets")
    out.append("")
    out.append("| target | met | missed on |")
    out.append("|---|---|---|")
    for target, met, total, missed in summarize_checks(data["checks"]):
        out.append("| %s | %d of %d | %s |" % (target, met, total, ", ".join(missed) or "-"))
    out.append("")
    out.append("### Throughput, latency and server CPU")
    out.append("")
    out.append("Throughput is all clients' operations per second together; p50/p99 are per "
               "operation, over all clients; CPU is the server process's user+system time per "
               "operation.")
    out.append("")
    out.append(md_table(HEADER, table_rows(data["cells"])))
    out.append("")
    if data["waiters"]:
        out.append("### Parked waiters")
        out.append("")
        out.append("Waits parked on one Event of a fresh server (TCP), then woken by one set. "
                   "Bytes per waiter: the server's RSS with all parked, less its RSS with the "
                   "same clients connected, over the waiters. Peak: the most threads the "
                   "server had from the first wait sent to the last woken (sampled every "
                   "20 ms). Set to last return: from the set to the return of the last "
                   "wait in the clients (a Future each in shoal's, a thread each in Python's).")
        out.append("")
        out.append(md_table(WAITER_HEADER, waiter_rows(data["waiters"])))
        out.append("")
    if data["wakeups"]:
        out.append("### Wake-up latency of one parked waiter")
        out.append("")
        out.append("From the put to the return of the parked get (Redis: LPUSH to BRPOP), "
                   "over TCP.")
        out.append("")
        out.append(md_table(WAKEUP_HEADER, wakeup_rows(data["wakeups"])))
        out.append("")
    if data.get("scales"):
        out.append("### Objects held")
        out.append("")
        out.append("One session holds that many anonymous lists; another calls Value.add in "
                   "a loop, first alone (quiet), then while a third makes and drops a list "
                   "per call (churn); then 200 Describes of one object. Over TCP.")
        out.append("")
        out.append(md_table(SCALE_HEADER, scale_rows(data["scales"])))
        out.append("")
    if data.get("memory"):
        out.append("Memory per empty object: one session makes that many anonymous objects of "
                   "one kind on a fresh server; the server's RSS before and after, per object.")
        out.append("")
        out.append(md_table(MEMORY_HEADER, memory_rows(data["memory"])))
        out.append("")
    if data.get("sessions"):
        out.append("### Many sessions")
        out.append("")
        out.append("Sessions opened from several client processes, a connection each, over "
                   "TCP. Active: every session calls Value.add on its own Value, the "
                   "process's threads taking its sessions in turn. Idle: connected, no calls. "
                   "Bytes per session: the server's RSS with all connected, less its RSS "
                   "fresh, over the sessions. Peak: the most threads the server had while "
                   "they connected and called (sampled every 20 ms).")
        out.append("")
        out.append(md_table(SESSIONS_HEADER, sessions_rows(data["sessions"])))
        out.append("")
    if data.get("tls"):
        out.append("### The cost of TLS")
        out.append("")
        out.append("One client's dict get over TCP, against a server without TLS and one with "
                   "(`--tls-cert-file`, an ECDSA P-256 certificate), on each carrier of the "
                   "session stream.")
        out.append("")
        out.append(md_table(TLS_HEADER, tls_rows(data["tls"])))
        out.append("")
    out.append("![throughput against client processes](performance-clients.png)")
    return "\n".join(out)


def write_docs(path, generated):
    with open(path) as f:
        text = f.read()
    if BEGIN_MARK not in text or END_MARK not in text:
        raise BenchError("%s has no %s ... %s markers" % (path, BEGIN_MARK, END_MARK))
    head, rest = text.split(BEGIN_MARK, 1)
    _, tail = rest.split(END_MARK, 1)
    with open(path, "w") as f:
        f.write(head + BEGIN_MARK + "\n" + generated + "\n" + END_MARK + tail)


def write_plot(data, png, tmp):
    if shutil.which("gnuplot") is None:
        raise BenchError("gnuplot is missing (install gnuplot-nox)")
    idx = index_cells(data["cells"])
    counts = sorted({c["clients"] for c in data["cells"] if c["transport"] == "tcp"})
    workloads = [w for w in PLOTTED if any(k[0] == w and k[1] == "tcp" for k in idx)]
    script = ["set terminal pngcairo noenhanced size 1500,950 font ',11'",
              "set output '%s'" % png,
              "set multiplot layout 2,3 title 'Throughput against client processes, loopback TCP "
              "(%s, %d cores)' font ',13'" % (data["machine"]["date"], data["machine"]["nproc"]),
              "set logscale x 2", "set xtics (%s)" % ", ".join("'%d' %d" % (n, n) for n in counts),
              "set xrange [%f:%f]" % (counts[0] / 1.4, counts[-1] * 1.4),
              "set yrange [0:*]", "set grid", "set key top left opaque box",
              "set xlabel 'client processes'", "set ylabel 'operations per second'",
              "set format y '%.0s%c'"]
    styles = {"shoal": "lc rgb '#1f77b4' pt 7", "python": "lc rgb '#d62728' pt 5",
              "redis": "lc rgb '#2ca02c' pt 9"}
    for w in workloads:
        plots = []
        for system in SYSTEMS:
            points = [(n, idx[(w, "tcp", n, system)]["ops_per_s"]) for n in counts
                      if (w, "tcp", n, system) in idx]
            if not points:
                continue
            dat = os.path.join(tmp, "plot-%s-%s.dat" % (w, system))
            with open(dat, "w") as f:
                for n, rate in points:
                    f.write("%d %f\n" % (n, rate))
            title = system + (" (emulated)" if w == "barrier_wait" and system == "redis" else "")
            plots.append("'%s' using 1:2 with linespoints lw 2 %s title '%s'"
                         % (dat, styles[system], title))
        script.append("set title '%s'" % w)
        script.append("plot " + ", ".join(plots))
    script.append("unset multiplot")
    path = os.path.join(tmp, "plot.gp")
    with open(path, "w") as f:
        f.write("\n".join(script) + "\n")
    r = subprocess.run(["gnuplot", path], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise BenchError("gnuplot failed:\n" + r.stderr)


def print_report(data, log):
    log("")
    log(text_table(HEADER, table_rows(data["cells"])))
    if data["waiters"]:
        log("")
        log(text_table(WAITER_HEADER, waiter_rows(data["waiters"])))
    if data["wakeups"]:
        log("")
        log("wake-up latency of one parked waiter (TCP):")
        log(text_table(WAKEUP_HEADER, wakeup_rows(data["wakeups"])))
    if data.get("scales"):
        log("")
        log("objects held (TCP):")
        log(text_table(SCALE_HEADER, scale_rows(data["scales"])))
    if data.get("memory"):
        log("")
        log("memory per empty object, each kind on a fresh server:")
        log(text_table(MEMORY_HEADER, memory_rows(data["memory"])))
    if data.get("sessions"):
        log("")
        log("many sessions (TCP):")
        log(text_table(SESSIONS_HEADER, sessions_rows(data["sessions"])))
    if data.get("tls"):
        log("")
        log("the cost of TLS (dict get, 1 client, TCP):")
        log(text_table(TLS_HEADER, tls_rows(data["tls"])))
    log("")
    log("targets:")
    for target, met, total, missed in summarize_checks(data["checks"]):
        log("  %-48s %s (%d of %d)%s" % (target, "met" if met == total else "MISSED", met, total,
                                          ": " + ", ".join(missed) if missed else ""))
    info = data["machine"]
    log("")
    log("%s; %d cores, %s; Python %s, Redis %s; load average at start %s, at end %s"
        % (info["date"], info["nproc"], info["cpu"], info["python"], info["redis"],
           " ".join(info["loadavg_start"]), " ".join(data["loadavg_end"])))


# ---------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", required=True, help="the build folder with shoal-server")
    parser.add_argument("--quick", action="store_true",
                        help="a subset in under a minute, to check a change; writes no docs")
    parser.add_argument("--seconds", type=float,
                        help="per cell, or per round of a cell (1 s; 0.4 s quick)")
    parser.add_argument("--rounds", type=int,
                        help="rounds of each throughput cell, the systems taking turns; "
                             "the median round counts (3; quick 1)")
    parser.add_argument("--no-pin", action="store_true",
                        help="leave the one-client cells' placement to the scheduler")
    parser.add_argument("--clients", help="comma-separated client counts (1,8,64; quick 1,8)")
    parser.add_argument("--transports", help="tcp,unix (quick: tcp)")
    parser.add_argument("--workloads", help="comma-separated subset of: " + ", ".join(WORKLOADS)
                        + " (quick: the plotted six, without list_append and dict_set)")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--waiters", type=int, help="shoal's parked waiters (10000; quick 2000)")
    parser.add_argument("--python-waiters", type=int,
                        help="Python's parked waiters (1000; quick 100): a thread and a "
                             "connection each, in the server and in the clients, connected "
                             "one after the other")
    parser.add_argument("--wakeup-trials", type=int, help="500; quick 100")
    parser.add_argument("--held", type=int,
                        help="objects held in the scale run (300000; quick 20000; 0: none)")
    parser.add_argument("--memory-objects", type=int,
                        help="empty objects of each kind (list, dict, Queue) for memory per "
                        "object (1000000; quick 50000; 0: none)")
    parser.add_argument("--sessions", type=int,
                        help="active sessions, all calling (1000; quick 200; 0: none)")
    parser.add_argument("--idle-sessions", type=int,
                        help="idle sessions, connected only (10000; quick 1000; 0: none)")
    parser.add_argument("--scale-only", action="store_true",
                        help="run the scale, memory and sessions measures only")
    parser.add_argument("--server-bin", help="the shoal-server to measure (default: the build's)")
    parser.add_argument("--no-tls", action="store_true",
                        help="skip the cost of TLS (one client's dict get with and without)")
    parser.add_argument("--json", help="where to write the results")
    parser.add_argument("--render", metavar="JSON",
                        help="run nothing: print the report of earlier results (and write "
                             "--docs and --plot from them)")
    parser.add_argument("--docs", help="docs/performance.md to update (full runs)")
    parser.add_argument("--plot", help="the PNG to write (full runs)")
    args = parser.parse_args()

    quick = args.quick
    seconds = args.seconds or (0.4 if quick else 1.0)
    rounds = args.rounds if args.rounds is not None else (1 if quick else 3)
    if rounds < 1:
        parser.error("--rounds must be at least 1")
    counts = [int(x) for x in (args.clients or ("1,8" if quick else "1,8,64")).split(",")]
    transports = (args.transports or ("tcp" if quick else "tcp,unix")).split(",")
    workloads = (args.workloads.split(",") if args.workloads
                 else list(PLOTTED) + ["pipelined_append", "bulk_update"] if quick
                 else list(WORKLOADS))
    systems = args.systems.split(",")
    for w in workloads:
        if w not in WORKLOADS:
            parser.error("unknown workload %r" % w)
    shoal_waiters = args.waiters if args.waiters is not None else (2000 if quick else 10000)
    python_waiters = (args.python_waiters if args.python_waiters is not None
                      else (100 if quick else 1000))
    trials = args.wakeup_trials if args.wakeup_trials is not None else (100 if quick else 500)
    held = args.held if args.held is not None else (20000 if quick else 300000)
    memory_objects = (args.memory_objects if args.memory_objects is not None
                      else (50000 if quick else 1000000))
    active_sessions = (args.sessions if args.sessions is not None
                       else (200 if quick else 1000))
    idle_sessions = (args.idle_sessions if args.idle_sessions is not None
                     else (1000 if quick else 10000))
    if args.scale_only:
        trials = shoal_waiters = python_waiters = 0
        transports = []

    def log(line):
        print(line, flush=True)

    def on_signal(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)

    if args.render:
        with open(args.render) as f:
            data = json.load(f)
        data["checks"] = check_targets(data["cells"], data["waiters"])
        print_report(data, log)
        with tempfile.TemporaryDirectory(prefix="shoal-bench-") as tmp:
            if args.plot:
                write_plot(data, args.plot, tmp)
        if args.docs:
            write_docs(args.docs, render_markdown(data))
        return 0

    tmp = tempfile.mkdtemp(prefix="shoal-bench-")
    ok = False
    started = time.monotonic()
    try:
        info = machine_info(args.build)
        servers = Servers(args.build, tmp, args.server_bin)
        log("shoal bench%s: %s cores, load %s; logs in %s"
            % (" (quick)" if quick else "", info["nproc"], " ".join(info["loadavg_start"]), tmp))
        wakeups = []
        if trials > 0:
            log("wake-up latency of one parked waiter, %d trials:" % trials)
            for system in systems:
                wk = run_wakeup(servers, system, trials)
                wakeups.append(wk)
                log("  %-6s p50 %.0f us, p99 %.0f us" % (system, wk["p50_us"], wk["p99_us"]))
        waiters = []
        if shoal_waiters > 0 or python_waiters > 0:
            log("parked waiters:")
        if shoal_waiters > 0 and "shoal" in systems:
            per = 2500  # each process parks its share from one thread, through async()
            waiters.append(run_waiters(servers, "shoal", max(1, shoal_waiters // per),
                                       min(per, shoal_waiters), log))
        if python_waiters > 0 and "python" in systems:
            per = 200
            waiters.append(run_waiters(servers, "python", max(1, python_waiters // per),
                                       min(per, python_waiters), log))
        tls_cells = []
        if not args.no_tls and not args.scale_only and "shoal" in systems:
            log("the cost of TLS:")
            tls_cells = run_tls(servers, seconds * rounds, log)
        cells = []
        for transport in transports:
            log("cells over %s:" % transport)
            cells += run_transport(servers, transport, counts, workloads, seconds, rounds,
                                   not args.no_pin, systems, log)
        scales, memory = [], []
        if "shoal" in systems and (held > 0 or memory_objects > 0):
            log("objects held:")
        if "shoal" in systems and held > 0:
            for n in sorted({0, held}):
                scales.append(run_scale(servers, n, max(seconds, 1.0) * 2, log))
        if "shoal" in systems and memory_objects > 0:
            for kind in MEMORY_KINDS:
                memory.append(run_memory(servers, memory_objects, kind, log))
        sessions = []
        if "shoal" in systems and (active_sessions > 0 or idle_sessions > 0):
            log("many sessions:")
        if "shoal" in systems and active_sessions > 0:
            # Four processes of active sessions, eight threads each.
            sessions.append(run_sessions(servers, active_sessions, 4, 8,
                                         max(seconds, 1.0) * 2, log))
        if "shoal" in systems and idle_sessions > 0:
            # A process per 1,000 idle sessions: each is two client threads.
            sessions.append(run_sessions(servers, idle_sessions,
                                         max(1, idle_sessions // 1000), 1, 0, log))
        data = {
            "machine": info,
            "config": {"quick": quick, "seconds": seconds, "rounds": rounds,
                       "pinned": not args.no_pin, "clients": counts,
                       "transports": transports, "workloads": workloads, "systems": systems},
            "cells": cells, "waiters": waiters, "wakeups": wakeups, "tls": tls_cells,
            "scales": scales, "memory": memory, "sessions": sessions,
            "loadavg_end": open("/proc/loadavg").read().split()[:3],
            "elapsed_s": time.monotonic() - started,
        }
        data["checks"] = check_targets(cells, waiters)
        print_report(data, log)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(data, f, indent=1)
            log("results: %s" % args.json)
        if args.plot:
            write_plot(data, args.plot, tmp)
            log("plot: %s" % args.plot)
        if args.docs:
            write_docs(args.docs, render_markdown(data))
            log("report: %s" % args.docs)
        log("done in %.0f s" % (time.monotonic() - started))
        ok = True
    except BenchError as e:
        log("bench: %s" % e)
    except KeyboardInterrupt:
        log("bench: interrupted")
    finally:
        stop_all()
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log("bench: logs kept in %s" % tmp)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
