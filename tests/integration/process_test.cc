// shoal::Process with a real server: children that connect a Manager of
// their own (forked before the parent connects), a server error uncaught in a
// child, a child forked from a connected parent that leaves the parent's
// session whole, and exec'd workers (the argv form) sharing a list and a
// Value.
#include "shoal/process.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "integration/fixture.h"

namespace shoal::testing {
namespace {

class ProcessManagerTest : public ServerTest {};

// The read end of a pipe, read to its end once the parent closed its write
// end (the children's copies close as they exit).
std::string ReadToEnd(int read_fd, int write_fd) {
  close(write_fd);
  std::string out;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(read_fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  close(read_fd);
  return out;
}

// Runs read in a child of its own and returns what it returned, so that the
// parent never connects: a child forked from a connected process cannot
// connect yet, and gtest may repeat a test in one process.
std::string ReadInAChild(std::function<std::string()> read) {
  int out[2];
  if (pipe(out) != 0) return "pipe failed";
  Process reader([&] {
    const std::string text = read();
    (void)!write(out[1], text.data(), text.size());
  });
  reader.start();
  reader.join();
  std::string text = ReadToEnd(out[0], out[1]);
  if (reader.exitcode() != 0) text += " (exit code " + std::to_string(*reader.exitcode()) + ")";
  return text;
}

TEST_F(ProcessManagerTest, ChildrenConnectManagersOfTheirOwn) {
  const std::string name = Unique("results");
  std::vector<Process> workers;
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back([name, i] {
      Manager m = Connect();
      m.list(name).append(i);
      m.dict(name + "-pids").set(i, static_cast<int64_t>(getpid()));
    });
  }
  for (Process& p : workers) p.start();
  for (Process& p : workers) p.join();
  for (Process& p : workers) EXPECT_EQ(p.exitcode(), 0) << p.name();

  std::string pids;
  for (int i = 0; i < 4; ++i) pids += (i > 0 ? ", " : "") + std::to_string(*workers[i].pid());
  EXPECT_EQ(ReadInAChild([&] {
              Manager m = Connect();
              ListProxy items = m.list(name);
              items.sort();
              DictProxy by_index = m.dict(name + "-pids");
              std::string text = items.str() + " [";
              for (int i = 0; i < 4; ++i) text += (i > 0 ? ", " : "") + by_index[i].repr();
              // Emptied, so that a repeated run starts from nothing.
              items.clear();
              by_index.clear();
              return text + "]";
            }),
            "[0, 1, 2, 3] [" + pids + "]");
}

TEST_F(ProcessManagerTest, AServerErrorUncaughtInAChildIsExitCodeOne) {
  int err[2];
  ASSERT_EQ(pipe(err), 0);
  Process p(
      [&] {
        dup2(err[1], STDERR_FILENO);
        Manager m = Connect();
        m.dict()["missing"];
      },
      "lookup");
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 1);
  EXPECT_EQ(ReadToEnd(err[0], err[1]), "Process lookup: KeyError: 'missing'\n");
}

TEST_F(ProcessManagerTest, AChildOfAConnectedParentLeavesItsSessionWhole) {
  Manager m = Connect();
  ListProxy list = m.list();
  list.append(1);
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  // The child uses nothing of shoal; it ends while the parent's session,
  // whose connection it inherited, is open.
  Process p([&] { (void)!write(out[1], "done", 4); });
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(ReadToEnd(out[0], out[1]), "done");
  list.append(2);
  EXPECT_EQ(list.copy(), Ints({1, 2}));
}

TEST_F(ProcessManagerTest, ExecdWorkersShareAListAndAValue) {
  constexpr int kWorkers = 3;
  constexpr int kEach = 20;
  const std::string list = Unique("items"), counter = Unique("counter");
  std::vector<Process> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back(std::vector<std::string>{
        "/proc/self/exe", "--worker", "append", server().address(), server().authkey_file(), list,
        counter, std::to_string(kEach), std::to_string(w)});
  }
  for (Process& p : workers) p.start();
  for (Process& p : workers) p.join();
  for (Process& p : workers) EXPECT_EQ(p.exitcode(), 0) << p.name();

  Manager m = Connect();
  EXPECT_EQ(m.list(list).len(), static_cast<size_t>(kWorkers * kEach));
  EXPECT_EQ(m.Value("q", 0, counter).get(), Value(kWorkers * kEach));
}

}  // namespace
}  // namespace shoal::testing
