// shoal_demo: a distributed job over one shoal server, run by the docker
// compose demo (docker/compose.yaml, docs/docker.md). One coordinator and
// any number of workers, each a process of its own, on any hosts.
//
// The job, in two phases: phase 1 squares the numbers 0..N-1; phase 2 sums
// phase 1's results by groups of ten. A worker's id is its name and its
// session, "worker-1#7". The shared objects, all named:
//
//   settings    Namespace      the job's settings, written by the coordinator,
//                              and the next phase's barrier (settings.next)
//   ready       Event          set once the settings are written
//   tasks       JoinableQueue  the tasks, [phase, id]
//   results     dict           "p1:7" -> [result, worker id, commit number]
//   inflight    dict           "p1:7" -> worker id, while the worker has it
//   workers     dict           worker id -> its session id
//   stats       dict           "processed": the counter stats_lock protects
//   stats_lock  Lock           guards results, stats and inflight on commit
//   recoveries  list           half-done commits found and finished
//   taken       Value          items taken from the queue (atomic add)
//   phase-P#A   Barrier        phase P begins together (attempt A)
//   stop        Event          the job is over
//   demo-pool   Pool           the pool phase's named pool
//
// A worker takes a task, records it in flight, computes, then commits under
// stats_lock: it writes an intent record, the result, and in one update the
// counter with the intent cleared. A worker killed while holding the lock
// loses it when its session ends; whoever takes the lock next finds the
// intent record and finishes or drops that commit, so the counter and the
// results always agree.
//
// The coordinator watches the workers' sessions. When one ends while tasks
// are unfinished, it waits until the others are idle (the queue empty, every
// live worker waiting in get), so that every unfinished item is one the dead
// worker took: it marks those done on the dead worker's behalf and puts back
// every task of the phase that has no result, the ones the worker had
// recorded in flight and any it had taken without recording yet. At the end
// it checks that every task has a correct result, that the counter counted
// one commit per task with no duplicate, and prints a summary.
//
// Then the pool phase (docs/pool.md): the workers left serve a named Pool,
// demo-pool, with serve_pool, and the coordinator maps "collatz" over
// --pool-tasks inputs on it (a Pool of no local processes, chunks of 20),
// watching the workers' sessions and the pool's leases meanwhile. Each
// worker says when it has run 200 tasks of the map; the fault run kills one
// then, holding a leased chunk, whose tasks go back to the pool when its
// session ends. The coordinator checks every result, in order, and prints
// the time the map took.
//
//   shoal_demo coordinator [--workers=3] [--tasks=300] [--work-ms=5]
//                          [--pool-tasks=4000] [--pool-work-ms=3] [--expect-fault]
//   shoal_demo worker --name=worker-1 [--hang-after=K] [--pause-after=K]
//
// Both take --server=ADDRESS (default $SHOAL_SERVER) and --authkey-file=PATH
// (default $SHOAL_AUTHKEY_FILE). --hang-after=K is the fault run's: after K
// tasks the worker takes three more, records two of them in flight, starts
// committing the first under stats_lock and stops there until it is killed.
// --pause-after=K is the fault run's too: the worker's commit after K tasks
// pauses for --pause-ms (10000) with stats_lock held and the commit half
// done, while the run cuts the container's network for a few seconds; it
// then finishes the commit on its session, which the client library resumes
// on a new connection. With --expect-fault the coordinator also expects a
// pool worker lost mid-map, holding leased tasks; without, none.
// The coordinator exits 0 when every check of both phases passes.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <future>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "shoal/shoal.h"

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;
using shoal::Value;

constexpr char kUsage[] =
    "usage: shoal_demo coordinator [--workers=3] [--tasks=300] [--work-ms=5]\n"
    "                              [--pool-tasks=4000] [--pool-work-ms=3] [--expect-fault]\n"
    "       shoal_demo worker --name=NAME [--hang-after=K] [--pause-after=K] [--pause-ms=MS]\n"
    "options of both: --server=ADDRESS (default $SHOAL_SERVER or 127.0.0.1:50051)\n"
    "                 --authkey-file=PATH (default $SHOAL_AUTHKEY_FILE)\n";

// How long the job waits for anything before it gives up: every wait is
// bounded, so a run always ends.
constexpr seconds kStartWait{120};
constexpr seconds kPhaseWait{300};
constexpr seconds kLockWait{120};
constexpr seconds kBarrierWait{30};
constexpr int kBarrierAttempts = 5;
constexpr milliseconds kIdleGet{250};
// The pool phase: the named pool, its map's chunksize, how many tasks of the
// map a worker runs before it says so (the fault run's cue), how often the
// coordinator looks at the pool while the map runs, and how often a serving
// worker checks that the coordinator is still there.
constexpr char kPoolName[] = "demo-pool";
constexpr int kPoolChunk = 20;
constexpr int64_t kPoolCue = 200;
constexpr milliseconds kPoolLook{250};
constexpr seconds kPoolReport{1};
constexpr seconds kServeCheck{2};

struct Args {
  std::string role;
  std::string server;
  std::string authkey_file;
  std::string name;
  // name#session: a worker restarted under the same name is another worker.
  std::string id;
  int workers = 3;
  int tasks = 300;
  int work_ms = 5;
  int pool_tasks = 4000;
  int pool_work_ms = 3;
  int hang_after = 0;
  int pause_after = 0;
  int pause_ms = 10000;
  bool expect_fault = false;
};

// A check that failed or a wait that ran out: the program ends with status 1.
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string Env(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && value[0] != '\0' ? value : fallback;
}

[[noreturn]] void Usage(const std::string& problem) {
  if (problem.empty()) {
    std::fputs(kUsage, stdout);
    std::exit(0);
  }
  std::fprintf(stderr, "shoal_demo: %s\n%s", problem.c_str(), kUsage);
  std::exit(2);
}

int Number(const std::string& flag, const char* text) {
  char* end = nullptr;
  const long n = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || n < 0 || n > 1000000) Usage(flag + ": not a count: " + text);
  return static_cast<int>(n);
}

Args Parse(int argc, char** argv) {
  Args args;
  args.server = Env("SHOAL_SERVER", "127.0.0.1:50051");
  args.authkey_file = Env("SHOAL_AUTHKEY_FILE", "");
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    const std::string flag = arg.substr(0, eq);
    const char* value = eq == std::string::npos ? nullptr : argv[i] + eq + 1;
    auto need = [&]() -> const char* {
      if (value == nullptr) Usage(flag + " needs a value (" + flag + "=...)");
      return value;
    };
    if (flag == "--help" || flag == "-h") {
      Usage("");
    } else if (flag == "--server") {
      args.server = need();
    } else if (flag == "--authkey-file") {
      args.authkey_file = need();
    } else if (flag == "--name") {
      args.name = need();
    } else if (flag == "--workers") {
      args.workers = Number(flag, need());
    } else if (flag == "--tasks") {
      args.tasks = Number(flag, need());
    } else if (flag == "--work-ms") {
      args.work_ms = Number(flag, need());
    } else if (flag == "--pool-tasks") {
      args.pool_tasks = Number(flag, need());
    } else if (flag == "--pool-work-ms") {
      args.pool_work_ms = Number(flag, need());
    } else if (flag == "--hang-after") {
      args.hang_after = Number(flag, need());
    } else if (flag == "--pause-after") {
      args.pause_after = Number(flag, need());
    } else if (flag == "--pause-ms") {
      args.pause_ms = Number(flag, need());
    } else if (flag == "--expect-fault") {
      args.expect_fault = value == nullptr || std::string(value) == "1";
    } else if (args.role.empty() && !arg.empty() && arg[0] != '-') {
      args.role = arg;
    } else {
      Usage("unknown argument " + arg);
    }
  }
  if (args.role != "coordinator" && args.role != "worker") Usage("say coordinator or worker");
  if (args.authkey_file.empty()) Usage("no authkey: give --authkey-file or $SHOAL_AUTHKEY_FILE");
  if (args.workers < 1) Usage("--workers must be at least 1");
  if (args.tasks < 10) Usage("--tasks must be at least 10");
  if (args.pool_tasks < 1) Usage("--pool-tasks must be at least 1");
  if (args.name.empty()) args.name = args.role;
  return args;
}

void Log(const Args& args, const std::string& line) {
  std::printf("%s: %s\n", args.name.c_str(), line.c_str());
  std::fflush(stdout);
}

// A deadline for a bounded wait.
class Deadline {
 public:
  explicit Deadline(Clock::duration within) : end_(Clock::now() + within) {}
  bool passed() const { return Clock::now() >= end_; }

 private:
  Clock::time_point end_;
};

// The pause between two looks at a condition that no call can wait for.
void PollPause() { std::this_thread::sleep_for(milliseconds(50)); }

std::string Key(int64_t phase, int64_t id) {
  return "p" + std::to_string(phase) + ":" + std::to_string(id);
}

// "1 task", "2 tasks"
std::string Count(int64_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

std::string Join(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

// The job's shared objects, by name: every process reaches the same ones.
struct Job {
  explicit Job(const shoal::Manager& m)
      : settings(m.Namespace("settings")),
        ready(m.Event("ready")),
        tasks(m.JoinableQueue(0, "tasks")),
        results(m.dict("results")),
        inflight(m.dict("inflight")),
        workers(m.dict("workers")),
        stats(m.dict("stats")),
        stats_lock(m.Lock("stats_lock")),
        recoveries(m.list("recoveries")),
        taken(m.Value("q", 0, "taken")),
        stop(m.Event("stop")) {}

  shoal::NamespaceProxy settings;
  shoal::EventProxy ready;
  shoal::QueueProxy tasks;
  shoal::DictProxy results;
  shoal::DictProxy inflight;
  shoal::DictProxy workers;
  shoal::DictProxy stats;
  shoal::LockProxy stats_lock;
  shoal::ListProxy recoveries;
  shoal::ValueProxy taken;
  shoal::EventProxy stop;
};

shoal::Manager Connect(const Args& args) {
  shoal::ConnectOptions options;
  options.client_name = args.name;
  options.wait_for_server = true;  // containers start together with the server
  options.timeout = kStartWait;
  return shoal::Manager::connect(args.server, shoal::AuthKey::from_file(args.authkey_file),
                                 options);
}

// Phase 1: id squared. Phase 2: the sum of phase 1's results id*10 .. id*10+9.
int64_t Compute(Job& job, int64_t phase, int64_t id) {
  if (phase == 1) return id * id;
  int64_t sum = 0;
  for (int64_t i = id * 10; i < id * 10 + 10; ++i) {
    sum += job.results[Key(1, i)].as_list()[0].as_int();
  }
  return sum;
}

int64_t Expected(int64_t phase, int64_t id) {
  if (phase == 1) return id * id;
  int64_t sum = 0;
  for (int64_t i = id * 10; i < id * 10 + 10; ++i) sum += i * i;
  return sum;
}

// The pool phase's function: the steps the Collatz sequence of n takes to
// reach 1.
int64_t CollatzSteps(int64_t n) {
  int64_t steps = 0;
  for (; n > 1; ++steps) n = n % 2 == 0 ? n / 2 : 3 * n + 1;
  return steps;
}

// The pool's functions, registered by name in every process that serves
// the pool: "collatz"(n) -> [CollatzSteps(n), the worker that ran it], after
// work_ms of work. ran, when set, is called after each task.
shoal::Functions PoolFunctions(const std::string& worker, int64_t work_ms,
                               std::function<void()> ran = nullptr) {
  shoal::Functions fns;
  fns.add("collatz", [worker, work_ms, ran](const Value::List& args) {
    const int64_t steps = CollatzSteps(args.at(0).as_int());
    std::this_thread::sleep_for(milliseconds(work_ms));  // the work itself
    if (ran) ran();
    return Value(Value::List{steps, worker});
  });
  return fns;
}

// "4.2 s"
std::string SecondsText(Clock::duration d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", std::chrono::duration<double>(d).count());
  return text;
}

void UpdateStats(Job& job, std::vector<shoal::DictProxy::Entry> entries) {
  job.stats.update(entries);
}

// Finishes or drops the commit that a holder of stats_lock left half done
// when it died: the intent record [key, holder, number, grant, duplicate]
// says what it was doing. Called with the lock held.
void FinishCommit(const Args& args, Job& job, const Value& intent, int64_t token) {
  const Value::List& record = intent.as_list();
  const std::string key = record[0].as_str();
  const std::string holder = record[1].as_str();
  const int64_t number = record[2].as_int();
  const int64_t held = record[3].as_int();
  const bool duplicate = record[4].as_bool();
  const Value result = job.results.get(key);
  // The result is written under the commit's number before the counter
  // moves; a duplicate writes no result but counts all the same.
  const bool written =
      duplicate || (!result.is_none() && result.as_list()[2].as_int() == number);
  if (written) {
    const int64_t duplicates = job.stats.get("duplicates", 0).as_int() + (duplicate ? 1 : 0);
    UpdateStats(job, {{"processed", number},
                      {"duplicates", duplicates},
                      {"last_token", held},
                      {"intent", Value()}});
    job.inflight.pop(key, Value());
  } else {
    UpdateStats(job, {{"intent", Value()}});
  }
  job.recoveries.append(Value::List{holder, held, key, written, args.id, token});
  Log(args, "took stats_lock (grant " + std::to_string(token) + ") from " + holder +
                ", which died holding it (grant " + std::to_string(held) + ") while committing " +
                key + "; " + (written ? "completed" : "dropped") + " that commit");
}

// Acquires stats_lock, finishing first any commit a dead holder left half
// done. Returns the lock's fencing token.
int64_t AcquireStats(const Args& args, Job& job) {
  if (!job.stats_lock.acquire(true, kLockWait)) {
    throw Failure("stats_lock not acquired within " + std::to_string(kLockWait.count()) + " s");
  }
  const int64_t token = job.stats_lock.fencing_token();
  const Value intent = job.stats.get("intent");
  if (!intent.is_none()) FinishCommit(args, job, intent, token);
  return token;
}

// The first steps of a commit, with stats_lock held: the intent record, then
// the result. Returns the commit's number.
int64_t BeginCommit(const Args& args, Job& job, const std::string& key, int64_t value,
                    int64_t token, bool* duplicate) {
  const int64_t number = job.stats.get("processed").as_int() + 1;
  *duplicate = job.results.contains(key);
  job.stats.set("intent", Value::List{key, args.id, number, token, *duplicate});
  if (!*duplicate) job.results.set(key, Value::List{value, args.id, number});
  return number;
}

// Records a task's result once, and counts it under stats_lock. With a
// pause, the commit stops that long halfway, the lock held (the fault run
// cuts the network meanwhile).
void Commit(const Args& args, Job& job, const std::string& key, int64_t value,
            milliseconds pause = milliseconds(0)) {
  const int64_t token = AcquireStats(args, job);
  bool duplicate = false;
  const int64_t number = BeginCommit(args, job, key, value, token, &duplicate);
  if (pause.count() > 0) {
    Log(args, "holding stats_lock (grant " + std::to_string(token) +
                  ") halfway through committing " + key + "; pausing " +
                  std::to_string(pause.count()) + " ms");
    std::this_thread::sleep_for(pause);
  }
  int64_t duplicates = 0;
  if (duplicate) {
    duplicates = job.stats.get("duplicates", 0).as_int() + 1;
    Log(args, "DUPLICATE: " + key + " was already done");
  }
  std::vector<shoal::DictProxy::Entry> entries = {
      {"processed", number}, {"last_token", token}, {"intent", Value()}};
  if (duplicate) entries.emplace_back("duplicates", duplicates);
  UpdateStats(job, std::move(entries));
  job.inflight.pop(key, Value());
  job.stats_lock.release();
}

struct Task {
  int64_t phase = 0;
  int64_t id = 0;
  std::string key() const { return Key(phase, id); }
};

Task ToTask(const Value& item) {
  return Task{item.as_list()[0].as_int(), item.as_list()[1].as_int()};
}

// A worker: takes tasks until the stop event, joining each phase's barrier
// when the coordinator announces it.
class Worker {
 public:
  explicit Worker(const Args& args) : args_(args), m_(Connect(args)), job_(m_) {
    args_.id = args_.name + "#" + m_.session_id();
  }

  int Run() {
    if (!job_.ready.wait(kStartWait)) {
      throw Failure("the coordinator did not publish the job within " +
                    std::to_string(kStartWait.count()) + " s");
    }
    work_ms_ = job_.settings.get("work_ms").as_int();
    coordinator_ = job_.settings.get("coordinator").as_str();
    job_.workers.set(args_.id, m_.session_id());
    Log(args_, "joined as " + args_.id + "; settings " + job_.settings.str());
    for (int idle = 1;; ++idle) {
      Value item;
      try {
        item = job_.tasks.get(true, kIdleGet);
        idle = 0;
      } catch (const shoal::Empty&) {
        if (job_.stop.is_set()) break;
        if (idle % 8 == 0) CheckCoordinator();
        NextPhase();
        continue;
      }
      job_.taken.add(1);
      if (args_.hang_after > 0 && done_ == args_.hang_after) HangHoldingTheLock(ToTask(item));
      Process(ToTask(item));
    }
    Log(args_, "stop event set; " + Count(done_, "task") + " done here");
    ServePool();
    return 0;
  }

 private:
  void Process(const Task& task) {
    job_.inflight.set(task.key(), args_.id);
    const int64_t value = Compute(job_, task.phase, task.id);
    std::this_thread::sleep_for(milliseconds(work_ms_));  // the work itself
    if (args_.pause_after > 0 && done_ == args_.pause_after) {
      const std::string session = m_.session_id();
      Commit(args_, job_, task.key(), value, milliseconds(args_.pause_ms));
      const std::string now = m_.session_id();
      Log(args_, "finished committing " + task.key() + " after the pause, on session " + now +
                     (now == session ? " (the same)" : " (a NEW one)"));
    } else {
      Commit(args_, job_, task.key(), value);
    }
    job_.tasks.task_done();
    ++done_;
  }

  // The pool phase: serves the named pool until the coordinator closes it
  // (serve_pool returns once it is closed and drained). The coordinator's
  // session ending first leaves no one to close it: the worker then exits.
  void ServePool() {
    std::atomic<int64_t> ran{0};
    const shoal::Functions fns =
        PoolFunctions(args_.id, job_.settings.get("pool_work_ms").as_int(), [&] {
          if (ran.fetch_add(1) + 1 == kPoolCue) {
            Log(args_, std::to_string(kPoolCue) + " tasks of the map run here");
          }
        });
    Log(args_, "serving pool " + std::string(kPoolName));
    std::future<void> served =
        std::async(std::launch::async, [&] { shoal::serve_pool(m_, kPoolName, fns); });
    while (served.wait_for(kServeCheck) != std::future_status::ready) {
      try {
        CheckCoordinator();
      } catch (const Failure&) {
        Log(args_, "FAILED: the coordinator's session ended before it closed the pool");
        std::_Exit(1);  // serve_pool would wait for ever
      }
    }
    served.get();
    Log(args_, "pool " + std::string(kPoolName) + " closed; " + Count(ran.load(), "task") +
                   " of its map run here");
  }

  // Without a coordinator no stop event will come.
  void CheckCoordinator() {
    for (const shoal::SessionInfo& session : m_.sessions()) {
      if (std::to_string(session.id) == coordinator_) return;
    }
    throw Failure("the coordinator's session ended before the job did");
  }

  // Joins the barrier of the next phase once the coordinator has announced
  // it in settings.next = [phase, barrier name, parties, [worker ids]]. A
  // barrier that broke (a party died or was late) is not tried again: the
  // coordinator announces a new one. A worker that joined after the
  // announcement is not one of its parties and goes on without it.
  void NextPhase() {
    const Value next = job_.settings.get("next");
    if (next.is_none()) return;
    const Value::List& announced = next.as_list();
    const int64_t phase = announced[0].as_int();
    const std::string name = announced[1].as_str();
    if (phase <= phase_ || name == broken_) return;
    bool party = false;
    for (const Value& id : announced[3].as_list()) party |= id.as_str() == args_.id;
    if (!party) {
      phase_ = phase;
      Log(args_, "joined during phase " + std::to_string(phase));
      return;
    }
    shoal::BarrierProxy barrier = m_.Barrier(announced[2].as_int(), std::nullopt, name);
    try {
      barrier.wait(kBarrierWait);
    } catch (const shoal::BrokenBarrierError&) {
      Log(args_, "barrier " + name + " broke; waiting for the next one");
      broken_ = name;
      return;
    }
    phase_ = phase;
    Log(args_, "phase " + std::to_string(phase) + " begins (barrier " + name + ")");
  }

  // The fault run: the state a worker leaves when it is killed while it holds
  // stats_lock halfway through a commit, with one more task recorded in
  // flight and one taken but not yet recorded.
  [[noreturn]] void HangHoldingTheLock(const Task& first) {
    job_.inflight.set(first.key(), args_.id);
    const int64_t value = Compute(job_, first.phase, first.id);
    std::vector<std::string> held = {first.key() + " (being committed)"};
    for (int i = 0; i < 2; ++i) {
      try {
        const Task more = ToTask(job_.tasks.get(true, seconds(5)));
        job_.taken.add(1);
        if (i == 0) job_.inflight.set(more.key(), args_.id);
        held.push_back(more.key() + (i == 0 ? " (in flight)" : " (taken, not yet recorded)"));
      } catch (const shoal::Empty&) {
      }
    }
    const int64_t token = AcquireStats(args_, job_);
    bool duplicate = false;
    BeginCommit(args_, job_, first.key(), value, token, &duplicate);
    Log(args_, "holding stats_lock (grant " + std::to_string(token) +
                   ") halfway through a commit, with tasks " + Join(held) +
                   "; stopped here until killed");
    for (;;) pause();
  }

  Args args_;
  shoal::Manager m_;
  Job job_;
  std::string coordinator_;
  int64_t work_ms_ = 0;
  int64_t phase_ = 0;
  std::string broken_;
  int done_ = 0;
};

// What the coordinator did for a worker that died.
struct Loss {
  std::string worker;
  bool several = false;
  int64_t phase = 0;
  int marked_done = 0;
  std::vector<std::string> put_back;
};

class Coordinator {
 public:
  explicit Coordinator(const Args& args) : args_(args), m_(Connect(args)), job_(m_) {
    args_.id = args_.name + "#" + m_.session_id();
  }

  int Run() {
    try {
      Publish();
      WaitForWorkers();
      const int64_t phase1 = args_.tasks / 10 * 10;
      RunPhase(1, phase1);
      RunPhase(2, phase1 / 10);
      for (const auto& [id, session] : LiveWorkers(nullptr)) finished_.push_back(id);
      job_.stop.set();
    } catch (...) {
      job_.stop.set();  // the workers stop too
      throw;
    }
    // The workers go on to serve the pool: waiting for that puts the
    // job's summary after their last words of the job.
    const bool serving = WaitForPoolWorkers();
    const int job = Check();
    if (!serving) throw Failure("the workers did not all serve " + std::string(kPoolName));
    const int pool = RunPool();
    return job != 0 ? job : pool;
  }

 private:
  // Writes the settings, then sets ready: no worker reads them before.
  void Publish() {
    if (job_.ready.is_set() || job_.results.len() != 0 || job_.stats.len() != 0) {
      throw Failure("the server holds an earlier run's objects; run the demo on a fresh server");
    }
    job_.settings.set("tasks", args_.tasks / 10 * 10);
    job_.settings.set("workers", args_.workers);
    job_.settings.set("work_ms", args_.work_ms);
    job_.settings.set("pool_work_ms", args_.pool_work_ms);
    job_.settings.set("coordinator", m_.session_id());
    job_.settings.set("next", Value());
    UpdateStats(job_, {{"processed", 0},
                       {"duplicates", 0},
                       {"last_token", 0},
                       {"intent", Value()}});
    job_.ready.set();
    Log(args_, "job published: " + job_.settings.str() + "; waiting for " +
                   std::to_string(args_.workers) + " workers");
  }

  // The registered workers whose sessions are alive: worker id -> session id.
  // With sessions, also the server's listing of every session.
  std::map<std::string, std::string> LiveWorkers(std::vector<shoal::SessionInfo>* sessions) {
    std::vector<shoal::SessionInfo> listed = m_.sessions();
    std::set<std::string> ids;
    for (const shoal::SessionInfo& session : listed) ids.insert(std::to_string(session.id));
    std::map<std::string, std::string> live;
    for (const shoal::DictProxy::Entry& entry : job_.workers.items()) {
      if (ids.count(entry.second.as_str()) != 0) {
        live[entry.first.as_str()] = entry.second.as_str();
      }
    }
    if (sessions != nullptr) *sessions = std::move(listed);
    return live;
  }

  void WaitForWorkers() {
    const Deadline deadline(kStartWait);
    while (LiveWorkers(nullptr).size() < static_cast<size_t>(args_.workers)) {
      if (deadline.passed()) {
        throw Failure("fewer than " + std::to_string(args_.workers) + " workers joined within " +
                      std::to_string(kStartWait.count()) + " s");
      }
      PollPause();
    }
  }

  // Every live worker and the coordinator meet at a barrier of parties
  // counted now; when it breaks (a worker died before or while waiting),
  // they meet again at a new one counted anew.
  void Rendezvous(int64_t phase) {
    for (int attempt = 1; attempt <= kBarrierAttempts; ++attempt) {
      const std::map<std::string, std::string> live = LiveWorkers(nullptr);
      if (live.empty()) throw Failure("no worker left for phase " + std::to_string(phase));
      const int64_t parties = static_cast<int64_t>(live.size()) + 1;
      const std::string name = "phase-" + std::to_string(phase) + "#" + std::to_string(attempt);
      shoal::BarrierProxy barrier = m_.Barrier(parties, std::nullopt, name);
      Value::List ids;
      for (const auto& [id, session] : live) ids.emplace_back(id);
      job_.settings.set("next", Value::List{phase, name, parties, std::move(ids)});
      try {
        barrier.wait(kBarrierWait);
        Log(args_, "phase " + std::to_string(phase) + " begins: " +
                       std::to_string(live.size()) + " workers met at barrier " + name);
        return;
      } catch (const shoal::BrokenBarrierError&) {
        Log(args_, "barrier " + name + " broke; counting the workers again");
      }
    }
    throw Failure("the workers never met for phase " + std::to_string(phase));
  }

  void RunPhase(int64_t phase, int64_t count) {
    Rendezvous(phase);
    for (int64_t id = 0; id < count; ++id) job_.tasks.put(Value::List{phase, id});
    put_ += count;
    Log(args_, "phase " + std::to_string(phase) + ": " + std::to_string(count) + " tasks queued");
    const Deadline deadline(kPhaseWait);
    while (!job_.tasks.join(milliseconds(500))) {
      if (deadline.passed()) {
        throw Failure("phase " + std::to_string(phase) + " unfinished after " +
                      std::to_string(kPhaseWait.count()) + " s");
      }
      const std::map<std::string, std::string> live = LiveWorkers(nullptr);
      std::vector<std::string> ended;
      for (const shoal::DictProxy::Entry& entry : job_.workers.items()) {
        const std::string worker = entry.first.as_str();
        if (live.count(worker) == 0 && gone_.count(worker) == 0) ended.push_back(worker);
      }
      if (ended.empty()) continue;
      Log(args_, Join(ended) + ": session ended in phase " + std::to_string(phase) +
                     "; waiting for the other workers to go idle");
      Recover(phase, count, deadline);
    }
    Log(args_, "phase " + std::to_string(phase) + " done: the queue joined");
  }

  // Waits until the queue is empty and every live worker waits in get: then
  // no live worker holds an item, and every unfinished one was taken by a
  // worker that died. Marks those done for it, and puts back every task of
  // the phase without a result.
  void Recover(int64_t phase, int64_t count, const Deadline& deadline) {
    std::map<std::string, std::string> live;
    for (;;) {
      if (deadline.passed()) throw Failure("the live workers never went idle");
      std::vector<shoal::SessionInfo> sessions;
      live = LiveWorkers(&sessions);
      if (live.empty()) throw Failure("no worker left to finish phase " + std::to_string(phase));
      std::set<std::string> waiting_in_get;
      for (const shoal::SessionInfo& session : sessions) {
        for (const shoal::SessionHolding& holding : session.holdings) {
          if (holding.name == "tasks" && holding.waiting > 0) {
            waiting_in_get.insert(std::to_string(session.id));
          }
        }
      }
      size_t idle = 0;
      for (const auto& [worker, session] : live) idle += waiting_in_get.count(session);
      if (idle == live.size() && job_.tasks.qsize() == 0) break;
      PollPause();
    }

    AcquireStats(args_, job_);
    Loss loss;
    loss.phase = phase;
    std::vector<std::string> dead;
    for (const shoal::DictProxy::Entry& entry : job_.workers.items()) {
      const std::string worker = entry.first.as_str();
      if (live.count(worker) == 0 && gone_.count(worker) == 0) dead.push_back(worker);
    }
    loss.worker = Join(dead);
    loss.several = dead.size() > 1;
    // Every unfinished item is a dead worker's now.
    for (;;) {
      try {
        job_.tasks.task_done();
        ++loss.marked_done;
      } catch (const shoal::ValueError&) {
        break;
      }
    }
    std::set<std::string> recorded;
    for (const shoal::DictProxy::Entry& entry : job_.inflight.items()) {
      if (live.count(entry.second.as_str()) != 0) {
        job_.stats_lock.release();
        throw Failure(entry.first.as_str() + " in flight at " + entry.second.as_str() +
                      ", which waits in get");
      }
      recorded.insert(entry.first.as_str());
      job_.inflight.del(entry.first);
    }
    const Value::Dict results = job_.results.copy();
    for (int64_t id = 0; id < count; ++id) {
      const std::string key = Key(phase, id);
      if (results.contains(key)) continue;
      job_.tasks.put(Value::List{phase, id});
      ++put_;
      loss.put_back.push_back(key + (recorded.count(key) != 0 ? " (was in flight)"
                                                              : " (was taken, not recorded)"));
    }
    job_.stats_lock.release();
    for (const std::string& worker : dead) gone_.insert(worker);
    const char* whom = dead.size() == 1 ? "it" : "them";
    Log(args_, "recovered from " + loss.worker + ": " + Count(loss.marked_done, "item") + " " +
                   whom + " had taken marked done for " + whom + "; put back " +
                   (loss.put_back.empty() ? "nothing" : Join(loss.put_back)));
    losses_.push_back(std::move(loss));
  }

  // The workers that finished the job, each with a pull parked on the
  // pool: every one of them serves it. False when they did not within
  // kStartWait.
  bool WaitForPoolWorkers() {
    const Deadline deadline(kStartWait);
    for (;;) {
      std::vector<shoal::SessionInfo> sessions;
      const std::map<std::string, std::string> live = LiveWorkers(&sessions);
      std::set<std::string> pulling;
      for (const shoal::SessionInfo& session : sessions) {
        for (const shoal::SessionHolding& holding : session.holdings) {
          if (holding.name == kPoolName && holding.waiting > 0) {
            pulling.insert(std::to_string(session.id));
          }
        }
      }
      size_t serving = 0;
      for (const std::string& worker : finished_) {
        auto it = live.find(worker);
        serving += it != live.end() && pulling.count(it->second) != 0 ? 1 : 0;
      }
      if (serving == finished_.size()) return true;
      if (deadline.passed()) {
        Log(args_, "only " + std::to_string(serving) + " of " +
                       Count(static_cast<int64_t>(finished_.size()), "worker") + " serve " +
                       kPoolName + " after " + std::to_string(kStartWait.count()) + " s");
        return false;
      }
      PollPause();
    }
  }

  // The workers leave once the pool is closed; waiting for them puts the
  // pool's summary after their last words.
  void WaitForWorkersToLeave() {
    const Deadline deadline(seconds(10));
    while (!LiveWorkers(nullptr).empty() && !deadline.passed()) PollPause();
  }

  // What the coordinator saw of a pool worker while the map ran.
  struct PoolWorker {
    std::string session;
    int64_t leased = 0;         // tasks leased to it when last seen
    bool disconnected = false;  // its session has no stream left
    bool lost = false;          // its session ended during the map
  };

  // One look at the pool while the map runs: logs a worker whose connection
  // broke, and one whose session ended (its leased tasks then went back to
  // the pool), and, when report is set, the map's progress.
  void LookAtPool(std::map<std::string, PoolWorker>& workers, int64_t tasks, bool report,
                  Clock::duration elapsed) {
    const shoal::ObjectInfo pool = m_.describe(kPoolName);
    std::map<std::string, int64_t> leased_by_session;
    int64_t leased = 0;
    for (const shoal::Holder& holder : pool.holders) {
      leased_by_session[std::to_string(holder.session_id)] = holder.count;
      leased += holder.count;
    }
    std::map<std::string, int> streams;
    for (const shoal::SessionInfo& session : m_.sessions()) {
      streams[std::to_string(session.id)] = session.streams;
    }
    std::vector<std::string> by_worker;
    for (auto& [id, w] : workers) {
      if (w.lost) continue;
      auto alive = streams.find(w.session);
      if (alive == streams.end()) {
        w.lost = true;
        Log(args_, id + ": session ended mid-map; its " + Count(w.leased, "leased task") +
                       " went back to the pool");
        continue;
      }
      auto held = leased_by_session.find(w.session);
      w.leased = held == leased_by_session.end() ? 0 : held->second;
      if (alive->second == 0 && !w.disconnected) {
        w.disconnected = true;
        Log(args_, id + ": connection lost mid-map, holding " +
                       Count(w.leased, "leased task") + "; they go back to the pool when its " +
                       "session ends (the server's --stream-grace)");
      }
      by_worker.push_back(id + " " + std::to_string(w.leased) +
                          (w.disconnected ? " (no connection)" : ""));
    }
    if (report) {
      const int64_t done = tasks - pool.size - leased;
      Log(args_, "map: " + std::to_string(done) + " of " + std::to_string(tasks) + " done, " +
                     std::to_string(pool.size) + " pending, leased: " + Join(by_worker) + " (" +
                     SecondsText(elapsed) + ")");
    }
  }

  // The pool phase: the workers serve the named pool (processes = 0: this
  // program starts none), and the map's results come back in input order.
  int RunPool() {
    shoal::PoolOptions options;
    options.processes = 0;
    options.name = kPoolName;
    options.chunksize = kPoolChunk;
    shoal::Pool pool(m_, PoolFunctions(args_.id, args_.pool_work_ms), options);
    std::map<std::string, PoolWorker> workers;
    const std::map<std::string, std::string> live = LiveWorkers(nullptr);
    for (const std::string& worker : finished_) {
      auto it = live.find(worker);
      if (it != live.end()) workers[worker].session = it->second;
    }
    const int64_t tasks = args_.pool_tasks;
    Value::List inputs;
    for (int64_t n = 1; n <= tasks; ++n) inputs.emplace_back(n);
    const Clock::duration even = milliseconds(tasks * args_.pool_work_ms) /
                                 std::max<int64_t>(static_cast<int64_t>(workers.size()), 1);
    Log(args_, "pool " + std::string(kPoolName) + ": mapping collatz over " +
                   std::to_string(tasks) + " numbers in chunks of " +
                   std::to_string(kPoolChunk) + ", " + std::to_string(args_.pool_work_ms) +
                   " ms of work each, on " +
                   Count(static_cast<int64_t>(workers.size()), "worker") +
                   " (the work alone, spread evenly: " + SecondsText(even) + ")");

    const Clock::time_point start = Clock::now();
    shoal::AsyncResult mapped = pool.map_async("collatz", inputs);
    const Deadline deadline(kPhaseWait);
    Clock::time_point next_report = start + kPoolReport;
    while (!mapped.ready()) {
      if (deadline.passed()) {
        throw Failure("the map unfinished after " + std::to_string(kPhaseWait.count()) + " s");
      }
      const Clock::time_point now = Clock::now();
      const bool report = now >= next_report;
      if (report) next_report += kPoolReport;
      LookAtPool(workers, tasks, report, now - start);
      mapped.wait(kPoolLook);
    }
    const Clock::duration took = Clock::now() - start;
    // Tasks a lost worker held ran again only once its session had ended:
    // this look sees it gone even when the map finished at once after.
    LookAtPool(workers, tasks, false, took);
    Value::List results;
    std::string error;
    try {
      results = mapped.get().as_list();
    } catch (const shoal::Error& e) {
      error = e.kind() + ": " + e.what();
    }
    Log(args_, "map done in " + SecondsText(took) +
                   (error.empty() ? "" : "; it failed: " + error));
    pool.close();
    pool.join();
    WaitForWorkersToLeave();
    return CheckPool(workers, results, error, took, even);
  }

  int CheckPool(const std::map<std::string, PoolWorker>& workers, const Value::List& results,
                const std::string& error, Clock::duration took, Clock::duration even) {
    const int64_t tasks = args_.pool_tasks;
    int64_t wrong = 0;
    std::map<std::string, int64_t> by_worker;
    for (const auto& [id, w] : workers) by_worker[id] = 0;
    for (size_t i = 0; i < results.size(); ++i) {
      const Value::List& r = results[i].as_list();
      if (r.at(0).as_int() != CollatzSteps(static_cast<int64_t>(i) + 1)) ++wrong;
      ++by_worker[r.at(1).as_str()];
    }
    const int64_t missing = tasks - static_cast<int64_t>(results.size());
    std::vector<std::string> serving;
    std::vector<std::string> lost;
    int64_t given_back = 0;
    for (const auto& [id, w] : workers) {
      serving.push_back(id);
      if (!w.lost) continue;
      lost.push_back(id + " mid-map, holding " + Count(w.leased, "leased task"));
      given_back += w.leased;
    }
    std::vector<std::string> failed;
    if (!error.empty() || missing != 0 || wrong != 0) failed.push_back("results");
    if (args_.expect_fault ? lost.empty() || given_back == 0 : !lost.empty()) {
      failed.push_back("fault");
    }

    std::printf("\n== shoal pool summary ==\n");
    std::printf("served by:      %s\n", Join(serving).c_str());
    std::printf("map:            collatz over 1..%lld, in chunks of %d, %d ms of work each\n",
                static_cast<long long>(tasks), kPoolChunk, args_.pool_work_ms);
    std::printf("results:        %zu in input order, %lld missing, %lld wrong\n", results.size(),
                static_cast<long long>(missing), static_cast<long long>(wrong));
    std::printf("time:           %s (the work alone, spread evenly over %s: %s)\n",
                SecondsText(took).c_str(),
                Count(static_cast<int64_t>(workers.size()), "worker").c_str(),
                SecondsText(even).c_str());
    std::string tally;
    for (const auto& [worker, count] : by_worker) {
      tally += (tally.empty() ? "" : ", ") + worker + " " + std::to_string(count);
    }
    std::printf("by worker:      %s\n", tally.c_str());
    std::printf("pool lost:      %s\n", lost.empty() ? "none" : Join(lost).c_str());
    if (given_back > 0) {
      std::printf("given back:     %s, run again on the others once the session ended\n",
                  Count(given_back, "task").c_str());
    }
    std::printf("result:         %s\n",
                failed.empty() ? "OK" : ("FAILED (" + Join(failed) + ")").c_str());
    std::fflush(stdout);
    return failed.empty() ? 0 : 1;
  }

  int Check() {
    std::vector<std::string> failed;
    const int64_t phase1 = args_.tasks / 10 * 10;
    const int64_t phase2 = phase1 / 10;
    const int64_t total = phase1 + phase2;
    const Value::Dict results = job_.results.copy();
    int64_t missing = 0;
    int64_t wrong = 0;
    std::map<std::string, int64_t> by_worker;
    for (const shoal::DictProxy::Entry& entry : job_.workers.items()) {
      by_worker[entry.first.as_str()] = 0;
    }
    for (int64_t phase : {1, 2}) {
      for (int64_t id = 0; id < (phase == 1 ? phase1 : phase2); ++id) {
        const Value* found = results.find(Key(phase, id));
        if (found == nullptr) {
          ++missing;
        } else if (found->as_list()[0].as_int() != Expected(phase, id)) {
          ++wrong;
        } else {
          ++by_worker[found->as_list()[1].as_str()];
        }
      }
    }
    const int64_t processed = job_.stats.get("processed").as_int();
    const int64_t duplicates = job_.stats.get("duplicates", 0).as_int();
    const int64_t taken = job_.taken.get().as_int();
    const int64_t in_flight = static_cast<int64_t>(job_.inflight.len());
    const Value::List recoveries = job_.recoveries.copy();

    if (missing != 0 || wrong != 0 || static_cast<int64_t>(results.size()) != total) {
      failed.push_back("results");
    }
    if (processed != total || duplicates != 0) failed.push_back("exactly once");
    if (in_flight != 0) failed.push_back("in flight");
    // An item a worker took just before it was killed may miss the count.
    if (losses_.empty() ? taken != put_ : taken > put_) failed.push_back("queue");
    if (args_.expect_fault && (losses_.empty() || recoveries.empty())) failed.push_back("fault");

    std::printf("\n== shoal demo summary ==\n");
    std::vector<std::string> lost;
    for (const shoal::DictProxy::Entry& entry : job_.workers.items()) {
      const std::string id = entry.first.as_str();
      if (std::find(finished_.begin(), finished_.end(), id) == finished_.end()) lost.push_back(id);
    }
    std::printf("workers:        %s joined, %zu to the end; lost: %s\n",
                Count(static_cast<int64_t>(job_.workers.len()), "worker").c_str(),
                finished_.size(), lost.empty() ? "none" : Join(lost).c_str());
    std::printf("tasks:          %lld (phase 1: %lld squares; phase 2: %lld sums of ten)\n",
                static_cast<long long>(total), static_cast<long long>(phase1),
                static_cast<long long>(phase2));
    std::printf("results:        %zu recorded, %lld missing, %lld wrong\n", results.size(),
                static_cast<long long>(missing), static_cast<long long>(wrong));
    std::printf("exactly once:   %s: %lld commits counted under stats_lock, %lld duplicates\n",
                processed == total && duplicates == 0 ? "yes" : "NO",
                static_cast<long long>(processed), static_cast<long long>(duplicates));
    std::printf("queue:          %lld items put (%lld put back), %lld taken, %lld left in flight\n",
                static_cast<long long>(put_), static_cast<long long>(put_ - total),
                static_cast<long long>(taken), static_cast<long long>(in_flight));
    std::string tally;
    for (const auto& [worker, count] : by_worker) {
      tally += (tally.empty() ? "" : ", ") + worker + " " + std::to_string(count);
    }
    std::printf("by worker:      %s\n", tally.c_str());
    for (const Loss& loss : losses_) {
      std::printf("lost worker:    %s in phase %lld; %s marked done for %s; put back %s\n",
                  loss.worker.c_str(), static_cast<long long>(loss.phase),
                  Count(loss.marked_done, "item").c_str(), loss.several ? "them" : "it",
                  loss.put_back.empty() ? "nothing" : Join(loss.put_back).c_str());
    }
    for (const Value& recovery : recoveries) {
      const Value::List& r = recovery.as_list();
      const bool recovered = r[5].as_int() > r[1].as_int();
      std::printf("lock recovered: %s: %s died holding stats_lock (grant %lld) while committing "
                  "%s; %s took it next (grant %lld) and %s that commit\n",
                  recovered ? "yes" : "NO", r[0].as_str().c_str(),
                  static_cast<long long>(r[1].as_int()), r[2].as_str().c_str(),
                  r[4].as_str().c_str(), static_cast<long long>(r[5].as_int()),
                  r[3].as_bool() ? "completed" : "dropped");
      if (!recovered) failed.push_back("lock");
    }
    std::printf("last commit:    under stats_lock grant %lld\n",
                static_cast<long long>(job_.stats.get("last_token").as_int()));
    std::printf("result:         %s\n",
                failed.empty() ? "OK" : ("FAILED (" + Join(failed) + ")").c_str());
    std::fflush(stdout);
    return failed.empty() ? 0 : 1;
  }

  Args args_;
  shoal::Manager m_;
  Job job_;
  std::vector<std::string> finished_;  // the workers alive at the end
  int64_t put_ = 0;
  std::set<std::string> gone_;
  std::vector<Loss> losses_;
};

}  // namespace

int main(int argc, char** argv) {
  const Args args = Parse(argc, argv);
  try {
    if (args.role == "coordinator") return Coordinator(args).Run();
    return Worker(args).Run();
  } catch (const shoal::Error& e) {
    std::fprintf(stderr, "%s: %s: %s\n", args.name.c_str(), e.kind().c_str(), e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: FAILED: %s\n", args.name.c_str(), e.what());
  }
  return 1;
}
