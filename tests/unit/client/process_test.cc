// shoal::Process without a server: exit codes as Python's, the report of an
// uncaught exception, signals, join with a timeout, the argv form, misuse,
// moves, and what a destroyed Process leaves. A child that must still be
// running blocks reading a pipe the test holds; children report through
// pipes, never through timing.
#include "shoal/process.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "shoal/errors.h"

namespace shoal {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A pipe whose ends the test closes when done with them.
class Pipe {
 public:
  Pipe() {
    if (pipe(fds_) != 0) std::abort();
  }
  ~Pipe() {
    CloseRead();
    CloseWrite();
  }
  int read_end() const { return fds_[0]; }
  int write_end() const { return fds_[1]; }
  void CloseRead() { Close(0); }
  void CloseWrite() { Close(1); }

  // Everything until end of file; the parent closes its write end first.
  std::string ReadAll() {
    CloseWrite();
    std::string out;
    char buffer[4096];
    for (;;) {
      const ssize_t n = read(fds_[0], buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return out;
      out.append(buffer, static_cast<size_t>(n));
    }
  }

  // In a child: writes text whole.
  void Write(const std::string& text) const {
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = write(fds_[1], text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
  }

  // In a child: blocks until the parent writes or closes its write end (the
  // child's copy of the write end is closed first).
  void Block() {
    CloseWrite();
    char byte;
    while (read(fds_[0], &byte, 1) < 0 && errno == EINTR) {
    }
  }

 private:
  void Close(int end) {
    if (fds_[end] >= 0) close(fds_[end]);
    fds_[end] = -1;
  }
  int fds_[2] = {-1, -1};
};

// Waits until the child pid has ended, and leaves it unreaped.
void WaitUntilEndedUnreaped(pid_t pid) {
  siginfo_t info{};
  while (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
  }
}

TEST(ProcessTest, ReturningIsExitCodeZero) {
  Pipe ran;
  Process p([&] { ran.Write("ran"); });
  EXPECT_FALSE(p.is_alive());
  EXPECT_EQ(p.exitcode(), std::nullopt);
  EXPECT_EQ(p.pid(), std::nullopt);
  p.start();
  p.join();
  EXPECT_EQ(ran.ReadAll(), "ran");
  EXPECT_FALSE(p.is_alive());
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(ProcessTest, ExitCodeIsWhatExitWasGiven) {
  Process with_std_exit([] { std::exit(3); });
  Process with_process_exit([] { Process::exit(4); });
  with_std_exit.start();
  with_process_exit.start();
  with_std_exit.join();
  with_process_exit.join();
  EXPECT_EQ(with_std_exit.exitcode(), 3);
  EXPECT_EQ(with_process_exit.exitcode(), 4);
}

TEST(ProcessTest, UncaughtExceptionIsExitCodeOneAndPrintedOnStderr) {
  Pipe err;
  Process p(
      [&] {
        dup2(err.write_end(), STDERR_FILENO);
        throw KeyError("'missing'");
      },
      "worker");
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 1);
  EXPECT_EQ(err.ReadAll(), "Process worker: KeyError: 'missing'\n");
}

TEST(ProcessTest, ExceptionsOfOtherTypesAreNamedByTheirType) {
  Pipe err;
  Process standard([&] {
    dup2(err.write_end(), STDERR_FILENO);
    throw std::runtime_error("boom");
  });
  Process other([&] {
    dup2(err.write_end(), STDERR_FILENO);
    throw 42;
  });
  standard.start();
  standard.join();
  other.start();
  other.join();
  EXPECT_EQ(standard.exitcode(), 1);
  EXPECT_EQ(other.exitcode(), 1);
  EXPECT_EQ(err.ReadAll(), "Process " + standard.name() + ": std::runtime_error: boom\n" +
                               "Process " + other.name() + ": int\n");
}

TEST(ProcessTest, KilledIsMinusTheSignal) {
  Pipe hold;
  Process killed([&] { hold.Block(); });
  Process terminated([&] { hold.Block(); });
  killed.start();
  terminated.start();
  EXPECT_TRUE(killed.is_alive());
  killed.kill();
  terminated.terminate();
  killed.join();
  terminated.join();
  EXPECT_EQ(killed.exitcode(), -SIGKILL);
  EXPECT_EQ(terminated.exitcode(), -SIGTERM);
  EXPECT_FALSE(killed.is_alive());
  // Once ended, signals are not sent at all.
  killed.kill();
  terminated.terminate();
  EXPECT_EQ(killed.exitcode(), -SIGKILL);
}

TEST(ProcessTest, JoinWithATimeoutReturnsWhileTheChildRuns) {
  Pipe hold;
  Process p([&] { hold.Block(); });
  p.start();
  EXPECT_FALSE(p.join(50ms));
  EXPECT_TRUE(p.is_alive());
  EXPECT_EQ(p.exitcode(), std::nullopt);
  EXPECT_FALSE(p.join(0s));
  EXPECT_FALSE(p.join(-1s));
  hold.CloseWrite();  // the child's read ends
  EXPECT_TRUE(p.join(60s));
  EXPECT_FALSE(p.is_alive());
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_TRUE(p.join(0s));
}

TEST(ProcessTest, PidIsTheChilds) {
  Pipe out;
  Process p([&] { out.Write(std::to_string(getpid())); });
  p.start();
  ASSERT_TRUE(p.pid().has_value());
  EXPECT_NE(*p.pid(), getpid());
  EXPECT_EQ(out.ReadAll(), std::to_string(*p.pid()));
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(ProcessTest, AVectorOfProcessesStartedAndJoined) {
  Pipe out;
  std::vector<Process> workers;
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back([&out, i] {
      out.Write(std::to_string(i));
      Process::exit(10 + i);
    });
  }
  for (Process& p : workers) p.start();
  for (Process& p : workers) p.join();
  std::string seen = out.ReadAll();
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, "0123");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(workers[i].exitcode(), 10 + i);
}

TEST(ProcessTest, MovesCarryTheChild) {
  Pipe hold;
  Process a([&] { hold.Block(); }, "moved");
  a.start();
  const std::optional<pid_t> pid = a.pid();
  Process b = std::move(a);
  EXPECT_EQ(b.pid(), pid);
  EXPECT_EQ(b.name(), "moved");
  EXPECT_EQ(a.pid(), std::nullopt);  // NOLINT(bugprone-use-after-move): moved-from is defined
  EXPECT_FALSE(a.is_alive());        // NOLINT(bugprone-use-after-move)
  EXPECT_THROW(a.start(), RuntimeError);
  EXPECT_THROW(a.join(), RuntimeError);

  Process c([] {});
  c = std::move(b);
  EXPECT_EQ(c.pid(), pid);
  EXPECT_TRUE(c.is_alive());
  hold.CloseWrite();
  c.join();
  EXPECT_EQ(c.exitcode(), 0);
}

TEST(ProcessTest, ArgvRunsAProgram) {
  Process absolute(std::vector<std::string>{"/bin/sh", "-c", "exit 7"});
  Process searched(std::vector<std::string>{"sh", "-c", "kill -TERM $$"});
  absolute.start();
  searched.start();
  absolute.join();
  searched.join();
  EXPECT_EQ(absolute.exitcode(), 7);
  EXPECT_EQ(searched.exitcode(), -SIGTERM);
}

TEST(ProcessTest, AProgramThatCannotRunFailsStart) {
  Process missing(std::vector<std::string>{"shoal-no-such-program", "x"});
  try {
    missing.start();
    FAIL() << "start() of a missing program returned";
  } catch (const OSError& e) {
    EXPECT_EQ(std::string(e.what()),
              "[Errno 2] No such file or directory: 'shoal-no-such-program'");
  }
  EXPECT_EQ(missing.pid(), std::nullopt);
  EXPECT_FALSE(missing.is_alive());
  EXPECT_THROW(missing.join(), RuntimeError);

  Process not_executable(std::vector<std::string>{"/dev/null"});
  EXPECT_THROW(not_executable.start(), OSError);
  EXPECT_THROW(Process(std::vector<std::string>{}), ValueError);
}

TEST(ProcessTest, MisuseIsRuntimeErrorWithPythonsMessage) {
  Process p([] {});
  EXPECT_THROW(p.join(), RuntimeError);
  EXPECT_THROW(p.join(1s), RuntimeError);
  EXPECT_THROW(p.kill(), RuntimeError);
  EXPECT_THROW(p.terminate(), RuntimeError);
  p.start();
  try {
    p.start();
    FAIL() << "a second start() returned";
  } catch (const RuntimeError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot start a process twice");
  }
  p.join();
  EXPECT_THROW(p.start(), RuntimeError);
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(ProcessTest, AChildCannotUseItsParentsProcess) {
  Pipe out;
  Process sibling([] {});
  Process p([&] {
    std::string seen;
    try {
      sibling.start();
    } catch (const RuntimeError& e) {
      seen += e.what();
    }
    seen += "|";
    try {
      sibling.is_alive();
    } catch (const RuntimeError& e) {
      seen += e.what();
    }
    out.Write(seen);
  });
  p.start();
  p.join();
  EXPECT_EQ(out.ReadAll(),
            "can only start a process object created by current process|"
            "can only test a child process");
  EXPECT_FALSE(sibling.is_alive());
}

TEST(ProcessTest, NamesCountAsPythonsAndNestInAChild) {
  Process first([] {});
  Process second([] {});
  const std::string number = first.name().substr(std::string("Process-").size());
  EXPECT_THAT(first.name(), StartsWith("Process-"));
  EXPECT_EQ(second.name(), "Process-" + std::to_string(std::stoi(number) + 1));
  EXPECT_EQ(Process([] {}, "named").name(), "named");

  Pipe out;
  Process parent([&] {
    Process child([] {});
    out.Write(child.name());
  });
  parent.start();
  parent.join();
  EXPECT_EQ(out.ReadAll(), parent.name() + ":1");
  EXPECT_EQ(parent.exitcode(), 0);
}

TEST(ProcessTest, TheChildFlushesItsStandardStreams) {
  Pipe out;
  Process p([&] {
    dup2(out.write_end(), STDOUT_FILENO);
    std::printf("from printf, ");
    std::cout << "from cout";
  });
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(out.ReadAll(), "from printf, from cout");
}

TEST(ProcessTest, TheChildsStandardInputIsDevNull) {
  Pipe out;
  Process p([&] {
    char byte;
    out.Write(std::to_string(read(STDIN_FILENO, &byte, 1)));
  });
  p.start();
  p.join();
  EXPECT_EQ(out.ReadAll(), "0");
}

TEST(ProcessTest, ADestroyedProcessLeavesItsChildRunningAndReapsItLater) {
  Pipe hold;
  pid_t pid = 0;
  {
    Process p([&] { hold.Block(); });
    p.start();
    pid = *p.pid();
  }
  // Not killed: it runs until it reads the end of the pipe.
  EXPECT_EQ(::kill(pid, 0), 0);
  siginfo_t info{};
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT), 0);
  EXPECT_EQ(info.si_pid, 0);  // still running

  hold.CloseWrite();
  WaitUntilEndedUnreaped(pid);
  // Starting (or destroying) any Process reaps the ended child.
  Process other([] {});
  other.start();
  other.join();
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(ProcessTest, OneThreadJoinsWhileAnotherKills) {
  Pipe hold;
  Process p([&] { hold.Block(); });
  p.start();
  std::thread joiner([&] { p.join(); });
  p.kill();
  joiner.join();
  EXPECT_EQ(p.exitcode(), -SIGKILL);
}

TEST(ProcessTest, ExitOutsideAChildIsStdExit) {
  // A plain fork, not a Process: Process::exit there is std::exit, which runs
  // atexit handlers (this one writes to the pipe).
  static int report_fd = -1;
  Pipe out;
  report_fd = out.write_end();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::atexit([] { (void)!write(report_fd, "atexit", 6); });
    Process::exit(5);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 5);
  EXPECT_EQ(out.ReadAll(), "atexit");
}

}  // namespace
}  // namespace shoal
