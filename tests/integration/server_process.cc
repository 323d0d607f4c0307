#include "integration/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

namespace shoal::testing {
namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "server_process: %s\n", what.c_str());
  std::abort();
}

std::string ReadProcField(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return line.substr(field.size() + 1);
  }
  return "";
}

// In a child before exec: RLIMIT_NOFILE at limit, soft and hard.
void LimitDescriptors(long limit) {
  if (limit <= 0) return;
  rlimit set{static_cast<rlim_t>(limit), static_cast<rlim_t>(limit)};
  if (setrlimit(RLIMIT_NOFILE, &set) != 0) _exit(126);
}

// Starts the server binary with args, its standard output (and standard
// error, with capture_stderr) on out, under the descriptor limits given (0:
// inherited): soft and hard at max_descriptors, then the soft one lowered to
// soft_descriptors. Returns its pid.
pid_t SpawnServer(std::vector<std::string> args, int out, bool capture_stderr,
                  long max_descriptors, long soft_descriptors) {
  const pid_t pid = fork();
  if (pid < 0) Fail("fork");
  if (pid > 0) return pid;
  dup2(out, STDOUT_FILENO);
  if (capture_stderr) dup2(out, STDERR_FILENO);
  LimitDescriptors(max_descriptors);
  if (soft_descriptors > 0) {
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = static_cast<rlim_t>(soft_descriptors);
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) _exit(126);
  }
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  execv(argv[0], argv.data());
  _exit(127);
}

}  // namespace

std::string ServerBinary() {
  const char* bin = std::getenv("SHOAL_SERVER_BIN");
  if (bin == nullptr || bin[0] == '\0') Fail("SHOAL_SERVER_BIN is not set");
  return bin;
}

ServerProcess::ServerProcess(std::vector<std::string> extra_args)
    : ServerProcess(Options{std::move(extra_args)}) {}

ServerProcess::ServerProcess(Options options) {
  char dir[] = "/tmp/shoal-test-XXXXXX";
  if (mkdtemp(dir) == nullptr) Fail("mkdtemp");
  dir_ = dir;
  static int started = 0;
  // Every server gets its own key, so a test can start one that does not
  // share another's.
  authkey_ = "integration-test-key-" + std::to_string(getpid()) + "-" + std::to_string(++started);
  authkey_file_ = dir_ + "/authkey";
  {
    int fd = open(authkey_file_.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) Fail("cannot write the authkey file");
    std::string line = authkey_ + "\n";
    if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) Fail("write");
    close(fd);
  }
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) Fail("pipe");
  std::vector<std::string> args = {ServerBinary(), "--listen=" + options.listen,
                                   "--authkey-file=" + authkey_file_};
  args.insert(args.end(), options.args.begin(), options.args.end());
  pid_ = SpawnServer(std::move(args), out[1], options.capture_stderr, options.max_descriptors,
                     options.soft_descriptors);
  close(out[1]);
  out_fd_ = out[0];
  // Read lines until the server names its address.
  std::string seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) Fail("server did not start; it said: " + seen);
    pollfd p{out_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[512];
    ssize_t n = read(out_fd_, buffer, sizeof buffer);
    if (n <= 0) Fail("server exited before listening; it said: " + seen);
    seen.append(buffer, static_cast<size_t>(n));
    const std::string marker = "listening on ";
    size_t at = seen.find(marker);
    if (at == std::string::npos) continue;
    size_t end = seen.find('\n', at);
    if (end == std::string::npos) continue;
    address_ = seen.substr(at + marker.size(), end - at - marker.size());
    break;
  }
  output_ = std::move(seen);
}

size_t ServerProcess::WaitForOutput(const std::string& text, int timeout_ms, size_t from) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const size_t at = output_.find(text, from);
    if (at != std::string::npos) return at;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || out_fd_ < 0) return std::string::npos;
    pollfd p{out_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[4096];
    const ssize_t n = read(out_fd_, buffer, sizeof buffer);
    if (n <= 0) return output_.find(text, from);
    output_.append(buffer, static_cast<size_t>(n));
  }
}

ServerExit RunServerToExit(const std::vector<std::string>& args, long max_descriptors) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) Fail("pipe");
  std::vector<std::string> all = {ServerBinary()};
  all.insert(all.end(), args.begin(), args.end());
  const pid_t pid = SpawnServer(std::move(all), out[1], /*capture_stderr=*/true, max_descriptors,
                                /*soft_descriptors=*/0);
  close(out[1]);
  ServerExit exit;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      close(out[0]);
      return exit;
    }
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[4096];
    const ssize_t n = read(out[0], buffer, sizeof buffer);
    if (n <= 0) break;  // every writer closed: the server is gone
    exit.output.append(buffer, static_cast<size_t>(n));
  }
  close(out[0]);
  waitpid(pid, &exit.status, 0);
  return exit;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Stop();
  if (out_fd_ >= 0) close(out_fd_);
  unlink(authkey_file_.c_str());
  rmdir(dir_.c_str());
}

bool ServerProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  return waitpid(pid_, &status, WNOHANG) == 0;
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

int ServerProcess::ThreadCount() const { return std::atoi(ReadProcField(pid_, "Threads").c_str()); }

long ServerProcess::ResidentKiB() const {
  return std::atol(ReadProcField(pid_, "VmRSS").c_str());
}

pid_t SpawnWorker(const std::vector<std::string>& args, int* stdout_fd) {
  int out[2] = {-1, -1};
  if (stdout_fd != nullptr && pipe2(out, O_CLOEXEC) != 0) Fail("pipe");
  pid_t pid = fork();
  if (pid < 0) Fail("fork");
  if (pid == 0) {
    if (stdout_fd != nullptr) dup2(out[1], STDOUT_FILENO);
    std::vector<std::string> all = {"/proc/self/exe", "--worker"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : all) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  if (stdout_fd != nullptr) {
    close(out[1]);
    *stdout_fd = out[0];
  }
  return pid;
}

std::string ReadLine(int fd) {
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) continue;
    char c;
    if (read(fd, &c, 1) != 1) return "";
    if (c == '\n') return line;
    line.push_back(c);
  }
  return "";
}

int WaitWorker(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace shoal::testing
