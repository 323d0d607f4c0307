// Process runs a function, or a program, in a child process, after Python's
// multiprocessing.Process with the fork start method:
//
//   shoal::Process worker([&] { results.set("answer", 42); });
//   worker.start();
//   worker.join();
//   if (worker.exitcode() != 0) ...
//
// The function form forks: the child starts as a copy of the parent at
// start(), runs the function, flushes stdout and stderr (C's and C++'s
// standard streams), and leaves with _exit. It never returns into the
// parent's code, and no static destructor or atexit handler runs in it; a
// FILE* or std::ofstream the child opens itself must be closed by it. As in
// Python, the child's standard input reads /dev/null. The exit code
// (exitcode()) is 0 when the function returns, the code given to
// Process::exit (or std::exit, which does run atexit handlers and static
// destructors), 1 when the function throws (the exception is printed on
// stderr as "Process Process-1: KeyError: 'k'"), and minus the signal number
// when a signal ends the child (-9 after kill(), -15 after terminate()).
//
// The argv form runs a program instead (posix_spawnp: the PATH search of
// execvp, the same environment), for workers that are separate programs.
// start() throws OSError, naming the program and the reason, when it cannot
// be run; no child is left behind then. The program starts with every signal
// unblocked and SIGPIPE at its default action, as Python's subprocess does.
//
// Misuse is RuntimeError, with Python's message: starting twice ("cannot
// start a process twice"), joining, killing or terminating one that was not
// started ("can only join a started process"), or using a Process from
// another process than the one that made it ("can only join a child
// process"), such as in a forked child.
//
// A Process destroyed (or assigned over) while its child may still run does
// not wait for the child and does not kill it: as in Python, the child runs
// on. The library reaps such a child without waiting (so that it leaves no
// zombie) whenever a Process is started or destroyed; one still running when
// the program ends is left to the system.
//
// waitpid reaps the child: a program that reaps children itself (waitpid(-1)
// or SIGCHLD set to SIG_IGN) takes the exit code away, and join, is_alive and
// exitcode then throw OSError.
//
// Thread-safety: unlike Python's, a Process may be used from several threads
// at once: one thread may join while another calls is_alive, terminate or
// kill. A signal is never sent to a process other than the child, since the
// child is reaped only under the same lock. As for any object, a Process must
// not be moved, assigned or destroyed while another thread uses it.
#ifndef SHOAL_PROCESS_H_
#define SHOAL_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace shoal {

namespace detail {
struct ProcessState;
}  // namespace detail

class Process {
 public:
  // A child that runs target. name, when empty, is Python's default:
  // "Process-N", counting the Process objects made by this process (in a
  // child, "Process-1:N" and so on, as Python's). An empty target makes a
  // child that does nothing and exits with 0.
  explicit Process(std::function<void()> target, std::string name = "");
  // A child that runs the program argv[0] (searched in PATH when it has no
  // '/') with the arguments argv. ValueError when argv is empty.
  explicit Process(std::vector<std::string> argv, std::string name = "");

  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  // Starts the child. RuntimeError when started before (or moved from);
  // OSError when the child cannot be made or the program cannot be run.
  void start();

  // Waits until the child has ended.
  void join();
  // Waits until the child has ended or timeout has passed (zero or less:
  // does not wait); true when it has ended, as is_alive() would then say.
  bool join(std::chrono::duration<double> timeout);

  // Whether the child was started and has not ended yet.
  bool is_alive() const;
  // The child's exit code once it has ended (see above); std::nullopt before
  // start() and while it runs.
  std::optional<int> exitcode() const;
  // The child's process id once started.
  std::optional<pid_t> pid() const;
  const std::string& name() const;

  // Sends SIGTERM, or SIGKILL, to the child; nothing once it has ended.
  void terminate();
  void kill();

  // In the function of a Process (or a thread it made): ends the child at
  // once with code as its exit code, the way returning from the function
  // does (the standard streams are flushed; no destructor runs). Outside
  // such a child it is std::exit(code).
  [[noreturn]] static void exit(int code);

 private:
  std::unique_ptr<detail::ProcessState> state_;
};

}  // namespace shoal

#endif  // SHOAL_PROCESS_H_
