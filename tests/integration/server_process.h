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
  // extra_args go to shoal-server after --listen and --authkey-file. Blocks
  // until the server says where it listens; aborts the test program if it
  // does not within 20 seconds.
  explicit ServerProcess(std::vector<std::string> extra_args = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& address() const { return address_; }
  const std::string& authkey() const { return authkey_; }
  const std::string& authkey_file() const { return authkey_file_; }
  const std::string& dir() const { return dir_; }
  pid_t pid() const { return pid_; }

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
};

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
