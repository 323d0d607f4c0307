// How the server takes connections, on both ports: its descriptor limit,
// running out of descriptors, --max-connections, and an address that another
// server holds.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/fixture.h"
#include "integration/raw_client.h"
#include <gmock/gmock.h>

namespace shoal::testing {
namespace {

using ::testing::HasSubstr;

uint16_t PortOf(const std::string& address) {
  return static_cast<uint16_t>(std::atoi(address.substr(address.rfind(':') + 1).c_str()));
}

// The framed port the server offers at login.
uint16_t FramedPort(const ServerProcess& server) {
  RawClient client(server.address());
  EXPECT_NE(client.Login(server.authkey()), "");
  return static_cast<uint16_t>(client.last_answer().framed().port());
}

// A connection to 127.0.0.1:port that says nothing; -1 if connect fails.
int ConnectRaw(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// The CPU time the process has used, user and system, in clock ticks.
long CpuTicks(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  // After the command: state is field 3; utime and stime are 14 and 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::atol(field.c_str());
    if (i == 15) stime = std::atol(field.c_str());
  }
  return utime + stime;
}

// Whether, for each port, the lines saying it stopped accepting and that it
// accepts again alternate, starting with a stop: a stop is said once, not at
// every retry. (A descriptor the server frees for a moment lets a port accept
// again, and stop again, which is two episodes, each said once.)
::testing::AssertionResult StopsAreSaidOncePerEpisode(const std::string& output) {
  for (const std::string port : {"gRPC", "framed"}) {
    const std::string stop = "cannot accept on the " + port + " port";
    const std::string again = "accepting on the " + port + " port again";
    bool stopped = false;
    std::istringstream lines(output);
    for (std::string line; std::getline(lines, line);) {
      if (line.find(stop) != std::string::npos) {
        if (stopped) return ::testing::AssertionFailure() << "said twice: " << line;
        stopped = true;
      } else if (line.find(again) != std::string::npos) {
        if (!stopped) return ::testing::AssertionFailure() << "again, never stopped: " << line;
        stopped = false;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

Manager ConnectWith(const ServerProcess& server, Transport transport,
                    const std::string& address = "") {
  ConnectOptions options;
  options.transport = transport;
  return Manager::connect(address.empty() ? server.address() : address,
                          AuthKey::from_file(server.authkey_file()), options);
}

// Connects until the server takes the session (a connection it counted may
// close a little after the client's end of it), for up to 10 s.
std::optional<Manager> ConnectWhenAdmitted(const ServerProcess& server, Transport transport) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    try {
      return ConnectWith(server, transport);
    } catch (const Error& e) {
      // Refused (LimitError) while the server has not yet seen the other
      // connection close, or not reached yet (ConnectionError).
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "still not admitted: " << e.what();
        return std::nullopt;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

// A private folder for unix sockets, removed with what is left in it.
class TempDir {
 public:
  TempDir() {
    char dir[] = "/tmp/shoal-listen-XXXXXX";
    if (mkdtemp(dir) != nullptr) path_ = dir;
  }
  ~TempDir() { std::system(("rm -rf " + path_).c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

ino_t InodeOf(const std::string& path) {
  struct stat st {};
  lstat(path.c_str(), &st);
  return st.st_ino;
}

TEST(ListenTest, RaisesTheDescriptorLimitToTheHardLimitAndSaysSo) {
  ServerProcess::Options options;
  options.soft_descriptors = 256;
  options.max_descriptors = 4096;  // the hard limit, set before the soft one
  ServerProcess server(options);
  EXPECT_THAT(server.output(), HasSubstr("descriptors: 256 -> 4096\n"));
  // Less what the server keeps for itself.
  EXPECT_THAT(server.output(), HasSubstr("connections: at most 4032 (--max-connections)\n"));
}

TEST(ListenTest, BothPortsAcceptAgainAfterRunningOutOfDescriptorsWithoutSpinning) {
  ServerProcess::Options options;
  options.max_descriptors = 128;
  options.capture_stderr = true;
  // Not the limit under test: the descriptors run out first.
  options.args = {"--max-connections=100000"};
  ServerProcess server(options);
  const uint16_t grpc_port = PortOf(server.address());
  const uint16_t framed_port = FramedPort(server);
  ASSERT_NE(framed_port, 0);

  // Idle connections on both ports, more than the server has descriptors
  // for: the kernel queues the rest.
  std::vector<int> idle;
  for (int i = 0; i < 300; ++i) {
    const int fd = ConnectRaw(i % 2 == 0 ? grpc_port : framed_port);
    ASSERT_GE(fd, 0) << "connection " << i;
    idle.push_back(fd);
  }
  const std::string paused = "cannot accept on the ";
  ASSERT_NE(server.WaitForOutput(paused + "gRPC port (Too many open files", 10000),
            std::string::npos)
      << server.output();
  ASSERT_NE(server.WaitForOutput(paused + "framed port (Too many open files", 10000),
            std::string::npos)
      << server.output();

  // Out of descriptors for a while: the server waits, it does not spin, and
  // it says so once (its retries come every 100 ms, then up to 1 s).
  const long before = CpuTicks(server.pid());
  const auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  const long ticks = CpuTicks(server.pid()) - before;
  const long elapsed_ticks =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                            start)
          .count() *
      sysconf(_SC_CLK_TCK) / 1000;
  EXPECT_LT(ticks, elapsed_ticks / 3) << "the server spins while out of descriptors";
  server.WaitForOutput("\n", 100, server.output().size());  // take what it wrote
  EXPECT_TRUE(StopsAreSaidOncePerEpisode(server.output())) << server.output();
  EXPECT_TRUE(server.Running());

  for (int fd : idle) close(fd);
  // Both ports serve real clients again, by themselves.
  Manager framed = ConnectWith(server, Transport::kFramed);
  framed.list().append(1);
  Manager grpc = ConnectWith(server, Transport::kGrpcStream);
  grpc.list().append(2);
  EXPECT_NE(server.WaitForOutput("accepting on the gRPC port again", 5000), std::string::npos);
  EXPECT_NE(server.WaitForOutput("accepting on the framed port again", 5000), std::string::npos);
  EXPECT_TRUE(StopsAreSaidOncePerEpisode(server.output())) << server.output();
}

// The gRPC channels of one process to one address share their connection,
// so the connections that fill the server come from raw sockets.
TEST(ListenTest, AConnectionOverTheLimitOnTheGrpcPortIsRefusedClearly) {
  ServerProcess::Options options;
  options.args = {"--max-connections=2"};
  options.capture_stderr = true;
  ServerProcess server(options);
  const uint16_t port = PortOf(server.address());
  // Taken in the order they came, before the client's.
  int idle[2] = {ConnectRaw(port), ConnectRaw(port)};
  ASSERT_GE(idle[0], 0);
  ASSERT_GE(idle[1], 0);
  try {
    ConnectWith(server, Transport::kGrpcStream);
    ADD_FAILURE() << "a third connection was accepted";
  } catch (const LimitError& e) {
    EXPECT_THAT(e.what(), HasSubstr("too many connections (--max-connections=2)"));
  }
  EXPECT_NE(server.WaitForOutput("refused 1 connection on the gRPC port: too many connections "
                                 "(--max-connections=2)",
                                 5000),
            std::string::npos)
      << server.output();

  // One goes, and another may come.
  close(idle[0]);
  std::optional<Manager> admitted = ConnectWhenAdmitted(server, Transport::kGrpcStream);
  ASSERT_TRUE(admitted.has_value());
  admitted->list().append(1);
  close(idle[1]);
}

TEST(ListenTest, AConnectionOverTheLimitOnTheFramedPortIsRefusedClearly) {
  ServerProcess::Options options;
  options.args = {"--max-connections=1"};
  options.capture_stderr = true;
  ServerProcess server(options);
  // The login takes the one connection, on gRPC; the framed connection is
  // one too many.
  try {
    ConnectWith(server, Transport::kFramed);
    ADD_FAILURE() << "a second connection was accepted";
  } catch (const ConnectionError& e) {
    EXPECT_THAT(e.what(), HasSubstr("too many connections (--max-connections=1)"));
  }
  EXPECT_NE(server.WaitForOutput("on the framed port: too many connections", 5000),
            std::string::npos)
      << server.output();
  // The refused client's login connection closes with it, and a client on
  // the gRPC stream alone (one connection) is served.
  std::optional<Manager> grpc = ConnectWhenAdmitted(server, Transport::kGrpcStream);
  ASSERT_TRUE(grpc.has_value());
  grpc->list().append(1);
}

TEST(ListenTest, ASessionPollOutsideItsRangeIsRefusedAtStart) {
  ServerProcess first;
  for (const std::string poll : {"-1us", "11ms", "1s"}) {
    const ServerExit refused = RunServerToExit(
        {"--listen=127.0.0.1:0", "--authkey-file=" + first.authkey_file(), "--session-poll=" + poll});
    ASSERT_TRUE(WIFEXITED(refused.status)) << refused.output;
    EXPECT_EQ(WEXITSTATUS(refused.status), 2) << poll;
    EXPECT_THAT(refused.output, HasSubstr("--session-poll must be between 0 and 10ms")) << poll;
  }
}

TEST(ListenTest, AServerThatNeverPollsServesAsOneThatDoes) {
  for (const std::string poll : {"0", "10ms"}) {
    ServerProcess::Options options;
    options.args = {"--session-poll=" + poll};
    ServerProcess server(options);
    Manager m = ConnectWith(server, Transport::kFramed);
    auto list = m.list();
    for (int i = 0; i < 100; ++i) list.append(i);
    EXPECT_EQ(list.size(), 100u) << poll;
  }
}

TEST(ListenTest, ASecondServerOnTheSameTcpAddressFailsAtStart) {
  ServerProcess first;
  const ServerExit second =
      RunServerToExit({"--listen=" + first.address(), "--authkey-file=" + first.authkey_file()});
  ASSERT_TRUE(WIFEXITED(second.status)) << second.output;
  EXPECT_NE(WEXITSTATUS(second.status), 0);
  EXPECT_THAT(second.output,
              HasSubstr("address " + first.address() + " is in use (another shoal-server?)"));
  // Every client still reaches the first.
  for (int i = 0; i < 3; ++i) {
    Manager m = ConnectWith(first, Transport::kAuto);
    m.list().append(i);
  }
}

TEST(ListenTest, ASecondServerOnTheSameUnixSocketFailsAndLeavesTheFirstsSockets) {
  TempDir dir;
  const std::string path = dir.path() + "/shoal.sock";
  ServerProcess::Options options;
  options.listen = "unix:" + path;
  ServerProcess first(options);
  ASSERT_TRUE(Exists(path));
  ASSERT_TRUE(Exists(path + ".framed"));
  const ino_t socket_inode = InodeOf(path);
  const ino_t framed_inode = InodeOf(path + ".framed");

  const ServerExit second = RunServerToExit(
      {"--listen=unix:" + path, "--authkey-file=" + first.authkey_file()});
  ASSERT_TRUE(WIFEXITED(second.status)) << second.output;
  EXPECT_NE(WEXITSTATUS(second.status), 0);
  EXPECT_THAT(second.output, HasSubstr("address unix:" + path +
                                       " is in use (another shoal-server holds " + path +
                                       ".lock)"));
  // Its framed socket alone (the first's gRPC socket already taken elsewhere)
  // fails the same way.
  const ServerExit third =
      RunServerToExit({"--listen=unix:" + dir.path() + "/other.sock",
                       "--session-listen=unix:" + path + ".framed",
                       "--authkey-file=" + first.authkey_file()});
  EXPECT_NE(WEXITSTATUS(third.status), 0);
  EXPECT_THAT(third.output, HasSubstr("is in use (another shoal-server holds " + path +
                                      ".framed.lock)"));
  EXPECT_FALSE(Exists(dir.path() + "/other.sock"));

  EXPECT_EQ(InodeOf(path), socket_inode);
  EXPECT_EQ(InodeOf(path + ".framed"), framed_inode);
  Manager framed = ConnectWith(first, Transport::kFramed);
  framed.list().append(1);
  Manager grpc = ConnectWith(first, Transport::kGrpcStream);
  grpc.list().append(2);

  // The owner removes its files as it stops.
  EXPECT_EQ(first.Stop(), 0);
  EXPECT_FALSE(Exists(path));
  EXPECT_FALSE(Exists(path + ".framed"));
  EXPECT_FALSE(Exists(path + ".lock"));
  EXPECT_FALSE(Exists(path + ".framed.lock"));
}

TEST(ListenTest, AUnixSocketLeftByAServerThatIsGoneIsReplaced) {
  TempDir dir;
  const std::string path = dir.path() + "/shoal.sock";
  // What a killed server leaves: socket files nobody listens on, and lock
  // files nobody holds.
  for (const std::string& socket_path : {path, path + ".framed"}) {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    close(fd);
    std::ofstream(socket_path + ".lock") << "";
  }
  ServerProcess::Options options;
  options.listen = "unix:" + path;
  ServerProcess server(options);
  Manager framed = ConnectWith(server, Transport::kFramed);
  framed.list().append(1);
  EXPECT_EQ(server.Stop(), 0);
  EXPECT_FALSE(Exists(path));
  EXPECT_FALSE(Exists(path + ".framed"));
}

TEST(ListenTest, SessionsNameThePeerOfAHandedOffGrpcConnection) {
  ServerProcess server;
  Manager m = ConnectWith(server, Transport::kGrpcStream);
  bool found = false;
  for (const SessionInfo& session : m.sessions()) {
    EXPECT_THAT(session.peer, ::testing::StartsWith("ipv4:127.0.0.1:"));
    found = true;
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace shoal::testing
