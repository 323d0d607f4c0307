// shoal::Process: a forked child that runs a function, or a spawned program.
//
// The child is reaped (waitpid) only with its ProcessState's lock held, so a
// signal sent under the same lock always reaches the child and never a
// process that took its pid later. Waiting itself happens outside the lock:
// on a pidfd (Linux 5.3+) the child's exit is seen at once; where pidfds are
// not available (an older kernel, a seccomp filter), the wait polls waitpid
// with a backoff of at most 50 ms.
#include "shoal/process.h"

#include <cxxabi.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>
#include <typeinfo>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "client/src/fork.h"
#include "shared/mutex.h"
#include "shoal/errors.h"

extern char** environ;

namespace shoal {
namespace detail {

struct ProcessState {
  // Exactly one of target and argv says what the child runs.
  std::function<void()> target;
  std::vector<std::string> argv;
  const std::string name;
  // The child's place in the tree of Processes ("3", or "1:3" in the child
  // of Process-1), as Python's _identity; it becomes the child's own.
  const std::string identity;
  // The process that made this Process; only it may start and wait for the
  // child (a forked child inherits a copy it must not use).
  const pid_t owner = getpid();

  Mutex mu;
  // Set while start() runs, so that a second start() fails at once.
  bool starting ABSL_GUARDED_BY(mu) = false;
  std::optional<pid_t> pid ABSL_GUARDED_BY(mu);
  // Set when the child has been reaped.
  std::optional<int> exitcode ABSL_GUARDED_BY(mu);

  ProcessState(std::function<void()> target, std::vector<std::string> argv, std::string name,
               std::string identity)
      : target(std::move(target)),
        argv(std::move(argv)),
        name(std::move(name)),
        identity(std::move(identity)) {}
};

}  // namespace detail

namespace {

using detail::ProcessState;

// Where this process sits in the tree of Processes: empty in a program's
// first process, the identity of its Process in a child. Both are changed
// only in a child just after fork, while it has a single thread.
std::string& Identity() {
  static std::string* const identity = new std::string();
  return *identity;
}
std::atomic<int> process_counter{0};
// Whether this process is the child of a function-form Process.
std::atomic<bool> in_child{false};

std::string ErrnoText(int err, const std::string& what) {
  return "[Errno " + std::to_string(err) + "] " + std::strerror(err) + ": " + what;
}

// The children of Processes destroyed while the child could still run: the
// library reaps them without waiting, as Python's multiprocessing does with
// the children it no longer tracks, so that an ended one leaves no zombie.
class DetachedChildren {
 public:
  static DetachedChildren& Get() {
    static const bool made = [] {
      current_.store(new DetachedChildren(nullptr), std::memory_order_release);
      pthread_atfork(nullptr, nullptr, &AfterForkInChild);
      return true;
    }();
    (void)made;
    return *current_.load(std::memory_order_acquire);
  }

  void Add(pid_t pid) {
    MutexLock lock(&mu_);
    pids_.push_back(pid);
  }

  // Reaps every listed child that has ended, without waiting.
  void Reap() {
    MutexLock lock(&mu_);
    pids_.erase(std::remove_if(pids_.begin(), pids_.end(),
                               [](pid_t pid) {
                                 pid_t reaped;
                                 do {
                                   reaped = waitpid(pid, nullptr, WNOHANG);
                                 } while (reaped < 0 && errno == EINTR);
                                 // Reaped now, or by someone else (ECHILD).
                                 return reaped != 0;
                               }),
                pids_.end());
  }

 private:
  explicit DetachedChildren(DetachedChildren* parents) : parents_(parents) {}

  // A forked child starts with a list of its own: the listed children are
  // not its children, and a thread of the parent may have held the lock at
  // the fork, a thread the child does not have. The parent's list is kept,
  // unused, rather than freed while it may be mid-change.
  static void AfterForkInChild() {
    current_.store(new DetachedChildren(current_.load(std::memory_order_relaxed)),
                   std::memory_order_release);
  }

  static inline std::atomic<DetachedChildren*> current_{nullptr};

  [[maybe_unused]] DetachedChildren* const parents_;
  Mutex mu_;
  std::vector<pid_t> pids_ ABSL_GUARDED_BY(mu_);
};

// What the parent has buffered must be written before the fork, or the child
// would write it again when it flushes.
void FlushStandardStreams() {
  std::cout.flush();
  std::cerr.flush();
  std::clog.flush();
  std::fflush(stdout);
  std::fflush(stderr);
}

std::string Demangled(const char* name) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (demangled == nullptr) return name;
  std::string out = demangled;
  std::free(demangled);
  return out;
}

// Python prints an exception that ends a Process's run on stderr, under
// "Process NAME:"; here on one line, "Process NAME: KIND: WHAT".
void ReportUncaught(const std::string& name, const std::string& kind, const char* what) {
  std::string line = "Process " + name + ": " + kind;
  if (what != nullptr && *what != '\0') line += std::string(": ") + what;
  std::fprintf(stderr, "%s\n", line.c_str());
}

// The one way out of a function-form child: whether its function returned,
// threw, or called Process::exit.
[[noreturn]] void EndChild(int code) {
  // The sessions the child opened end now, so that what they hold (locks,
  // permits, waits) is given back at once rather than after the grace of a
  // broken connection: _exit runs no destructor.
  detail::EndSessionsOfThisProcess();
  FlushStandardStreams();
  _exit(code);
}

// The child's side of a function-form start(), run just after fork.
[[noreturn]] void RunChild(const ProcessState& state) {
  in_child.store(true);
  Identity() = state.identity;
  process_counter.store(0);
  // As in Python, the child does not share the parent's standard input.
  if (std::freopen("/dev/null", "r", stdin) == nullptr) std::clearerr(stdin);

  int code = 0;
  try {
    if (state.target) state.target();
  } catch (const Error& e) {
    ReportUncaught(state.name, e.kind(), e.what());
    code = 1;
  } catch (const std::exception& e) {
    ReportUncaught(state.name, Demangled(typeid(e).name()), e.what());
    code = 1;
  } catch (...) {
    const std::type_info* type = abi::__cxa_current_exception_type();
    ReportUncaught(state.name, type != nullptr ? Demangled(type->name()) : "unknown exception",
                   nullptr);
    code = 1;
  }
  EndChild(code);
}

// Runs argv as posix_spawnp does, which reports a failed exec to the caller
// (as its error) and reaps the child it made for it.
pid_t Spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  // A program starts with no signal blocked (a thread of the parent may
  // block some) and SIGPIPE and SIGXFSZ at their default action, which the
  // parent may ignore: what Python's subprocess gives a program.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGXFSZ);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  pid_t pid = 0;
  const int err = posix_spawnp(&pid, args[0], nullptr, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  if (err != 0) throw OSError(ErrnoText(err, "'" + argv[0] + "'"));
  return pid;
}

int ExitCodeOf(int status) {
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return WEXITSTATUS(status);
}

// Reaps the child if it has ended (with block, waits until it has). True once
// it is reaped. OSError when the child was reaped by other code.
bool Reap(ProcessState& state, bool block) ABSL_EXCLUSIVE_LOCKS_REQUIRED(state.mu) {
  if (state.exitcode.has_value()) return true;
  int status = 0;
  pid_t reaped;
  do {
    reaped = waitpid(*state.pid, &status, block ? 0 : WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  if (reaped == 0) return false;
  if (reaped < 0) {
    throw OSError(ErrnoText(errno, "waitpid(" + std::to_string(*state.pid) + ") of " + state.name));
  }
  state.exitcode = ExitCodeOf(status);
  return true;
}

// A pidfd for pid, or -1 where the system gives none.
int PidfdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

using Clock = std::chrono::steady_clock;

// Waits until the pidfd says its process has ended (true), or until the
// deadline (false); std::nullopt when poll fails.
std::optional<bool> PollPidfd(int pidfd, std::optional<Clock::time_point> deadline) {
  for (;;) {
    int timeout_ms = -1;
    if (deadline.has_value()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now());
      timeout_ms = static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1 << 30));
    }
    pollfd fd{pidfd, POLLIN, 0};
    const int ready = poll(&fd, 1, timeout_ms);
    if (ready > 0) return true;
    if (ready == 0 && (!deadline.has_value() || Clock::now() >= *deadline)) return false;
    if (ready < 0 && errno != EINTR) return std::nullopt;
  }
}

// Waits until the child has ended and reaps it, or until the deadline; true
// once reaped.
bool Wait(ProcessState& state, std::optional<Clock::time_point> deadline) {
  int pidfd = -1;
  {
    MutexLock lock(&state.mu);
    if (!state.pid.has_value()) throw RuntimeError("can only join a started process");
    if (Reap(state, false)) return true;
    if (deadline.has_value() && Clock::now() >= *deadline) return false;
    // Opened with the lock held: until the child is reaped its pid is its own.
    pidfd = PidfdOpen(*state.pid);
  }
  if (pidfd >= 0) {
    const std::optional<bool> ended = PollPidfd(pidfd, deadline);
    close(pidfd);
    if (ended.has_value()) {
      MutexLock lock(&state.mu);
      // Once the pidfd says so, the child has ended: waiting to reap it is
      // brief.
      return Reap(state, *ended);
    }
  }
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    {
      MutexLock lock(&state.mu);
      if (Reap(state, false)) return true;
    }
    Clock::duration sleep = pause;
    if (deadline.has_value()) {
      const Clock::time_point now = Clock::now();
      if (now >= *deadline) return false;
      sleep = std::min<Clock::duration>(sleep, *deadline - now);
    }
    std::this_thread::sleep_for(sleep);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

std::string NextIdentity() {
  const std::string number = std::to_string(process_counter.fetch_add(1) + 1);
  return Identity().empty() ? number : Identity() + ":" + number;
}

std::unique_ptr<ProcessState> MakeState(std::function<void()> target,
                                        std::vector<std::string> argv, std::string name) {
  std::string identity = NextIdentity();
  if (name.empty()) name = "Process-" + identity;
  return std::make_unique<ProcessState>(std::move(target), std::move(argv), std::move(name),
                                        std::move(identity));
}

// Gives the child, if it may still run, to DetachedChildren. Never throws.
void Detach(ProcessState* state) {
  if (state == nullptr || state->owner != getpid()) return;
  bool running = false;
  pid_t pid = 0;
  {
    MutexLock lock(&state->mu);
    if (state->pid.has_value()) {
      try {
        running = !Reap(*state, false);
      } catch (const Error&) {
        // Reaped by other code: nothing is left to reap.
      }
      pid = *state->pid;
    }
  }
  if (running) DetachedChildren::Get().Add(pid);
  DetachedChildren::Get().Reap();
}

ProcessState& Checked(const std::unique_ptr<ProcessState>& state, const char* message) {
  if (state == nullptr) throw RuntimeError("the Process was moved from");
  if (state->owner != getpid()) throw RuntimeError(message);
  return *state;
}

void Signal(const std::unique_ptr<ProcessState>& state, int signal) {
  ProcessState& s = Checked(state, "can only signal a child process");
  MutexLock lock(&s.mu);
  if (!s.pid.has_value()) throw RuntimeError("can only signal a started process");
  // An unreaped child keeps its pid, even as a zombie, which a signal does
  // not harm.
  if (!s.exitcode.has_value()) ::kill(*s.pid, signal);
}

}  // namespace

Process::Process(std::function<void()> target, std::string name)
    : state_(MakeState(std::move(target), {}, std::move(name))) {}

Process::Process(std::vector<std::string> argv, std::string name) {
  if (argv.empty()) throw ValueError("argv must name the program to run");
  state_ = MakeState(nullptr, std::move(argv), std::move(name));
}

Process::Process(Process&& other) noexcept = default;

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    Detach(state_.get());
    state_ = std::move(other.state_);
  }
  return *this;
}

Process::~Process() { Detach(state_.get()); }

void Process::start() {
  ProcessState& state =
      Checked(state_, "can only start a process object created by current process");
  {
    MutexLock lock(&state.mu);
    if (state.starting || state.pid.has_value()) {
      throw RuntimeError("cannot start a process twice");
    }
    state.starting = true;
  }
  DetachedChildren::Get().Reap();

  pid_t pid = -1;
  int fork_error = 0;
  if (!state.argv.empty()) {
    try {
      pid = Spawn(state.argv);
    } catch (...) {
      MutexLock lock(&state.mu);
      state.starting = false;
      throw;
    }
  } else {
    FlushStandardStreams();
    pid = fork();
    if (pid == 0) RunChild(state);
    fork_error = errno;
  }

  MutexLock lock(&state.mu);
  state.starting = false;
  if (pid < 0) throw OSError(ErrnoText(fork_error, "fork of " + state.name));
  state.pid = pid;
}

void Process::join() { Wait(Checked(state_, "can only join a child process"), std::nullopt); }

bool Process::join(std::chrono::duration<double> timeout) {
  ProcessState& state = Checked(state_, "can only join a child process");
  const auto wait = std::chrono::duration_cast<Clock::duration>(
      std::max(timeout, std::chrono::duration<double>::zero()));
  return Wait(state, Clock::now() + wait);
}

bool Process::is_alive() const {
  if (state_ == nullptr) return false;
  ProcessState& state = Checked(state_, "can only test a child process");
  MutexLock lock(&state.mu);
  return state.pid.has_value() && !Reap(state, false);
}

std::optional<int> Process::exitcode() const {
  if (state_ == nullptr) return std::nullopt;
  ProcessState& state = Checked(state_, "can only test a child process");
  MutexLock lock(&state.mu);
  if (state.pid.has_value()) Reap(state, false);
  return state.exitcode;
}

std::optional<pid_t> Process::pid() const {
  if (state_ == nullptr) return std::nullopt;
  MutexLock lock(&state_->mu);
  return state_->pid;
}

const std::string& Process::name() const {
  static const std::string* const none = new std::string();
  return state_ != nullptr ? state_->name : *none;
}

void Process::terminate() { Signal(state_, SIGTERM); }

void Process::kill() { Signal(state_, SIGKILL); }

void Process::exit(int code) {
  if (in_child.load()) EndChild(code);
  std::exit(code);
}

}  // namespace shoal
