#include "integration/workers.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "integration/pool_functions.h"
#include "shoal/shoal.h"

namespace shoal::testing {
namespace {

int Append(int argc, char** argv) {
  if (argc != 7) return 2;
  Manager m = Manager::connect(argv[1], AuthKey::from_file(argv[2]));
  ListProxy list = m.list(argv[3]);
  ValueProxy counter = m.Value("q", 0, argv[4]);
  const int n = std::atoi(argv[5]);
  const std::string index = argv[6];
  for (int i = 0; i < n; ++i) {
    list.append("w" + index + "-" + std::to_string(i));
    counter.add(1);
  }
  return 0;
}

int Nested(int argc, char** argv) {
  if (argc != 4) return 2;
  Manager m = Manager::connect(argv[1], AuthKey::from_file(argv[2]));
  DictProxy d = m.dict(argv[3]);
  ListProxy inner(d["inner"]);
  inner.append(static_cast<int64_t>(getpid()));
  return 0;
}

// Sets KEY of the dict whose token it is given to its pid.
int SetKey(int argc, char** argv) {
  if (argc != 5) return 2;
  Manager m = Manager::connect(argv[1], AuthKey::from_file(argv[2]));
  DictProxy d = m.attach<DictProxy>(argv[3]);
  d.set(argv[4], static_cast<int64_t>(getpid()));
  return 0;
}

int Hold(int argc, char** argv) {
  if (argc != 3) return 2;
  Manager m = Manager::connect(argv[1], AuthKey::from_file(argv[2]));
  DictProxy d = m.dict();
  ListProxy l = m.list();
  l.append(1);
  d.set("l", l);
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) pause();
}

// Takes the named Lock, says "held TOKEN", and waits to be killed.
int HoldLock(int argc, char** argv) {
  if (argc != 4) return 2;
  Manager m = Manager::connect(argv[1], AuthKey::from_file(argv[2]));
  LockProxy lock = m.Lock(argv[3]);
  if (!lock.acquire()) return 3;
  std::printf("held %lld\n", static_cast<long long>(lock.fencing_token()));
  std::fflush(stdout);
  for (;;) pause();
}

// Acquires the named Lock, says "held TOKEN", then waits, making no call,
// until it is continued after a stop (SIGSTOP, then SIGCONT). Then it
// releases the Lock and says "released", or what the release threw
// ("ConnectionError: ..."), and waits to be killed.
int FrozenHolder(int argc, char** argv) {
  if (argc != 4) return 2;
  // SIGCONT is blocked before the library starts its threads, which inherit
  // the mask, and this thread takes it with sigwait: no handler runs. (Under
  // ThreadSanitizer a handler is deferred to the next intercepted call of
  // the thread that took the signal, which may be one of gRPC's, parked for
  // good in a wait the runtime does not see.) A stopped process is continued
  // by SIGCONT whether or not it is blocked.
  sigset_t continued;
  sigemptyset(&continued);
  sigaddset(&continued, SIGCONT);
  if (pthread_sigmask(SIG_BLOCK, &continued, nullptr) != 0) return 4;
  Manager m = Manager::connect(argv[1], AuthKey::from_file(argv[2]));
  LockProxy lock = m.Lock(argv[3]);
  if (!lock.acquire()) return 3;
  std::printf("held %lld\n", static_cast<long long>(lock.fencing_token()));
  std::fflush(stdout);
  int signal_number = 0;
  while (sigwait(&continued, &signal_number) != 0) {
  }
  try {
    lock.release();
    std::printf("released\n");
  } catch (const Error& e) {
    std::printf("%s: %s\n", e.kind().c_str(), e.what());
  }
  std::fflush(stdout);
  for (;;) pause();
}

// Says "ready", then blocks in get() on the named queue (to be killed there);
// an item it does receive is printed.
int BlockedGet(int argc, char** argv) {
  if (argc != 4) return 2;
  Manager m = Manager::connect(argv[1], AuthKey::from_file(argv[2]));
  QueueProxy q = m.Queue(0, argv[3]);
  std::printf("ready\n");
  std::fflush(stdout);
  std::printf("got %s\n", q.get().repr().c_str());
  std::fflush(stdout);
  for (;;) pause();
}

// Takes a permit of the Semaphore or BoundedSemaphore whose token it is
// given, says "took", and waits to be killed.
int TakePermit(int argc, char** argv) {
  if (argc != 4) return 2;
  Manager m = Manager::connect(argv[1], AuthKey::from_file(argv[2]));
  SemaphoreProxy sem = m.attach<SemaphoreProxy>(argv[3]);
  if (!sem.acquire()) return 3;
  std::printf("took\n");
  std::fflush(stdout);
  for (;;) pause();
}

// Says "ready", then waits at the named Barrier (to be killed there).
int BarrierParty(int argc, char** argv) {
  if (argc != 5) return 2;
  Manager m = Manager::connect(argv[1], AuthKey::from_file(argv[2]));
  BarrierProxy barrier = m.Barrier(std::atoi(argv[4]), std::nullopt, argv[3]);
  std::printf("ready\n");
  std::fflush(stdout);
  barrier.wait();
  for (;;) pause();
}

// Says "ready", then takes items from the queue whose token it is given,
// printing "got ITEM" for each, until the queue is shut down: then prints
// "shutdown" and ends.
int GetUntilShutdown(int argc, char** argv) {
  if (argc != 4) return 2;
  Manager m = Manager::connect(argv[1], AuthKey::from_file(argv[2]));
  QueueProxy q = m.attach<QueueProxy>(argv[3]);
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) {
    try {
      std::printf("got %s\n", q.get().repr().c_str());
    } catch (const ShutDown&) {
      std::printf("shutdown\n");
      std::fflush(stdout);
      return 0;
    }
    std::fflush(stdout);
  }
}

// Takes items from the named JoinableQueue until None, appending each to the
// named list and marking it done.
int Consume(int argc, char** argv) {
  if (argc != 5) return 2;
  Manager m = Manager::connect(argv[1], AuthKey::from_file(argv[2]));
  QueueProxy q = m.JoinableQueue(0, argv[3]);
  ListProxy done = m.list(argv[4]);
  for (;;) {
    Value item = q.get();
    if (item.is_none()) {
      q.task_done();
      return 0;
    }
    done.append(item);
    q.task_done();
  }
}

// Python's seeds: num.value = 3.1415927; for i in range(len(a)): a[i] = -a[i].
int Negate(int argc, char** argv) {
  if (argc != 5) return 2;
  Manager m = Manager::connect(argv[1], AuthKey::from_file(argv[2]));
  ValueProxy num = m.attach<ValueProxy>(argv[3]);
  ArrayProxy arr = m.attach<ArrayProxy>(argv[4]);
  num.set(3.1415927);
  for (int64_t i = 0; i < static_cast<int64_t>(arr.len()); ++i) arr.set(i, -arr[i].as_int());
  return 0;
}

// Writes this worker's share of the Array's items, round after round.
int ArrayWriter(int argc, char** argv) {
  if (argc != 7) return 2;
  Manager m = Manager::connect(argv[1], AuthKey::from_file(argv[2]));
  ArrayProxy arr = m.attach<ArrayProxy>(argv[3]);
  const int worker = std::atoi(argv[4]);
  const int workers = std::atoi(argv[5]);
  const int rounds = std::atoi(argv[6]);
  const int64_t length = static_cast<int64_t>(arr.len());
  for (int round = 0; round < rounds; ++round) {
    for (int64_t i = worker; i < length; i += workers) arr.set(i, worker * 1000 + round);
  }
  return 0;
}

// Echoes every message that comes through the Pipe end of the token, until
// the other end closes.
int PipeEcho(int argc, char** argv) {
  if (argc != 4) return 2;
  Manager m = Manager::connect(argv[1], AuthKey::from_file(argv[2]));
  ConnectionProxy conn = m.attach<ConnectionProxy>(argv[3]);
  for (;;) {
    Value message;
    try {
      message = conn.recv();
    } catch (const EOFError&) {
      conn.close();
      return 0;
    }
    conn.send(Value::list({"echo", message}));
  }
}

// Sends [TAG, i] through the Pipe end of the token, N times.
int PipeSend(int argc, char** argv) {
  if (argc != 6) return 2;
  Manager m = Manager::connect(argv[1], AuthKey::from_file(argv[2]));
  ConnectionProxy conn = m.attach<ConnectionProxy>(argv[3]);
  const std::string tag = argv[4];
  const int n = std::atoi(argv[5]);
  for (int i = 0; i < n; ++i) conn.send(Value::list({tag, i}));
  return 0;
}

// Holds the Pipe end of the token, says so through it, and waits to be
// killed.
int PipeHold(int argc, char** argv) {
  if (argc != 4) return 2;
  Manager m = Manager::connect(argv[1], AuthKey::from_file(argv[2]));
  ConnectionProxy conn = m.attach<ConnectionProxy>(argv[3]);
  conn.send("attached");
  for (;;) pause();
}

// Serves the named Pool until it is closed and drained.
int PoolServe(int argc, char** argv) {
  if (argc != 4) return 2;
  Manager m = Manager::connect(argv[1], AuthKey::from_file(argv[2]));
  serve_pool(m, argv[3], PoolTestFunctions(m));
  std::printf("served\n");
  std::fflush(stdout);
  return 0;
}

int PoolOwner(int argc, char** argv) {
  if (argc != 4) return 2;
  Manager m = Manager::connect(argv[1], AuthKey::from_file(argv[2]));
  Pool pool(m, PoolTestFunctions(m), {.processes = std::atoi(argv[3])});
  // Each worker has pulled (its session is up) once this map is done.
  pool.map("square", Value::List(static_cast<size_t>(std::atoi(argv[3])) * 4, Value(1)), 1);
  std::string line = "pids";
  for (pid_t pid : pool.pids()) line += " " + std::to_string(pid);
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  for (;;) pause();
}

}  // namespace

int RunWorker(int argc, char** argv) {
  const std::string name = argv[0];
  try {
    if (name == "append") return Append(argc, argv);
    if (name == "nested") return Nested(argc, argv);
    if (name == "set-key") return SetKey(argc, argv);
    if (name == "hold") return Hold(argc, argv);
    if (name == "hold-lock") return HoldLock(argc, argv);
    if (name == "frozen-holder") return FrozenHolder(argc, argv);
    if (name == "blocked-get") return BlockedGet(argc, argv);
    if (name == "take-permit") return TakePermit(argc, argv);
    if (name == "barrier-party") return BarrierParty(argc, argv);
    if (name == "consume") return Consume(argc, argv);
    if (name == "get-until-shutdown") return GetUntilShutdown(argc, argv);
    if (name == "negate") return Negate(argc, argv);
    if (name == "array-writer") return ArrayWriter(argc, argv);
    if (name == "pipe-echo") return PipeEcho(argc, argv);
    if (name == "pipe-send") return PipeSend(argc, argv);
    if (name == "pipe-hold") return PipeHold(argc, argv);
    if (name == "pool-serve") return PoolServe(argc, argv);
    if (name == "pool-owner") return PoolOwner(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "worker %s: %s\n", name.c_str(), e.what());
    return 1;
  }
  std::fprintf(stderr, "unknown worker %s\n", name.c_str());
  return 2;
}

}  // namespace shoal::testing
