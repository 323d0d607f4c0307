// Runs a real shoal-server process for a test: on a free loopback port, with
// an authkey file of its own, stopped (SIGTERM) when the object goes.
#ifndef SHOAL_TESTS_INTEGRATION_SERVER_PROCESS_H_
#define SHOAL_TESTS_INTEGRATION_SERVER_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace shoal::testing {

class ServerProcess {
 public:
  struct Options {
    // Go to shoal-server after --listen and --authkey-file.
    std::vector<std::string> args;
    std::string listen = "127.0.0.1:0";
    // When not 0, the server runs with RLIMIT_NOFILE at this (soft and hard,
    // so that the server cannot raise it).
    long max_descriptors = 0;
    // When not 0, the server starts with this soft RLIMIT_NOFILE (the hard
    // limit stays), which it raises.
    long soft_descriptors = 0;
    // Whether the server's standard error joins its standard output, for
    // WaitForOutput.
    bool capture_stderr = false;
  };

  // extra_args go to shoal-server after --listen and --authkey-file. Blocks
  // until the server says where it listens; aborts the test program if it
  // does not within 20 seconds.
  explicit ServerProcess(std::vector<std::string> extra_args = {});
  explicit ServerProcess(Options options);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& address() const { return address_; }
  const std::string& authkey() const { return authkey_; }
  const std::string& authkey_file() const { return authkey_file_; }
  const std::string& dir() const { return dir_; }
  pid_t pid() const { return pid_; }

  // What the server has written so far (standard output, and standard error
  // with capture_stderr), up to when it said where it listens, and since
  // through WaitForOutput.
  const std::string& output() const { return output_; }
  // Reads the server's output until it holds text after position from, or
  // timeout passes. Returns where text starts, or std::string::npos.
  size_t WaitForOutput(const std::string& text, int timeout_ms, size_t from = 0);

  // Whether the process is still running.
  bool Running();
  // Sends SIGTERM and returns the exit status (as waitpid reports it).
  int Stop();
  // The server's thread count, from /proc.
  int ThreadCount() const;
  // The server's resident memory in KiB, from /proc.
  long ResidentKiB() const;

 private:
  std::string dir_;
  std::string authkey_;
  std::string authkey_file_;
  std::string address_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string output_;
};

// Runs shoal-server with args (and, when max_descriptors is not 0, that
// RLIMIT_NOFILE) until it exits, for a start that is to fail. Its exit status
// (as waitpid reports it, or -1 if it ran past 20 seconds and was killed) and
// all it wrote, standard output and error together.
struct ServerExit {
  int status = -1;
  std::string output;
};
ServerExit RunServerToExit(const std::vector<std::string>& args, long max_descriptors = 0);

// The path of the shoal-server binary: $SHOAL_SERVER_BIN.
std::string ServerBinary();

// Starts this test program again as a worker process (fork, then exec of
// /proc/self/exe with "--worker" and args), so that the worker begins with no
// gRPC state of its parent. Returns its pid. With stdout_fd, the worker's
// standard output is a pipe whose read end is stored there.
pid_t SpawnWorker(const std::vector<std::string>& args, int* stdout_fd = nullptr);
// Reads from fd until a whole line arrives, or 20 seconds pass ("" then).
std::string ReadLine(int fd);
// Waits for a worker and returns its exit code (128 + signal if killed).
int WaitWorker(pid_t pid);

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_INTEGRATION_SERVER_PROCESS_H_
