// shoal-soak: runs a shoal-server under load for a set time while killing
// client processes at random, then checks that nothing was lost, applied
// twice, left held or left behind (docs/reliability.md, "Soak").
//
//   shoal-soak [--seconds=N] [--workers=N] [--sessions=N] [--seed=N]
//              [--kill-min=SECONDS] [--kill-max=SECONDS] [--transport=mixed|framed|grpc]
//              [--server-bin=PATH] [--stream-grace=SECONDS]
//              [--address=ADDR --authkey-file=PATH [--server-pid=PID]]
//
// Without --address it starts its own shoal-server (--server-bin, else
// $SHOAL_SERVER_BIN, else ../server/shoal-server beside this program) with a
// short --stream-grace. Workers are this program started again with --worker
// (fork, then exec at once): each runs --sessions sessions, one Manager
// connection each, and reports acknowledged operations on a pipe (soak.h).
// Exit code 0 when every invariant held, 1 when one failed, 2 for bad usage.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "shoal/shoal.h"
#include "soak/invariants.h"
#include "soak/soak.h"

namespace shoal::soak {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Options {
  double seconds = 60;
  int workers = 8;
  int sessions = 8;
  uint64_t seed = 0;
  double kill_min = 0.5;
  double kill_max = 2.0;
  double stream_grace = 1.0;
  std::string transport = "mixed";
  std::string address;
  std::string authkey_file;
  std::string server_bin;
  pid_t server_pid = 0;
  // Worker mode.
  bool worker = false;
  uint64_t id = 0;
  std::string prefix;
};

constexpr char kUsage[] =
    "usage: shoal-soak [--seconds=N] [--workers=N] [--sessions=N] [--seed=N]\n"
    "                  [--kill-min=SECONDS] [--kill-max=SECONDS] [--transport=mixed|framed|grpc]\n"
    "                  [--server-bin=PATH] [--stream-grace=SECONDS]\n"
    "                  [--address=ADDR --authkey-file=PATH [--server-pid=PID]]\n"
    "Runs a shoal-server under load while killing worker processes at random,\n"
    "then checks its invariants (docs/reliability.md). Exit code 0: all held.\n";

[[noreturn]] void Usage(const std::string& why) {
  if (!why.empty()) std::fprintf(stderr, "shoal-soak: %s\n", why.c_str());
  std::fputs(kUsage, why.empty() ? stdout : stderr);
  std::exit(why.empty() ? 0 : 2);
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") Usage("");
    if (arg.rfind("--", 0) != 0) Usage("unexpected argument " + arg);
    std::string name = arg.substr(2), value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (name != "worker") {
      static const char* const kNames[] = {
          "seconds",  "workers",      "sessions", "seed",       "kill-min",   "kill-max",
          "stream-grace", "transport", "address", "authkey-file", "server-bin", "server-pid",
          "id",       "prefix"};
      if (std::find(std::begin(kNames), std::end(kNames), name) == std::end(kNames)) {
        Usage("unknown flag --" + name);
      }
      if (i + 1 >= argc) Usage("--" + name + " needs a value");
      value = argv[++i];
    }
    try {
      if (name == "worker") o.worker = true;
      else if (name == "seconds") o.seconds = std::stod(value);
      else if (name == "workers") o.workers = std::stoi(value);
      else if (name == "sessions") o.sessions = std::stoi(value);
      else if (name == "seed") o.seed = std::stoull(value);
      else if (name == "kill-min") o.kill_min = std::stod(value);
      else if (name == "kill-max") o.kill_max = std::stod(value);
      else if (name == "stream-grace") o.stream_grace = std::stod(value);
      else if (name == "transport") o.transport = value;
      else if (name == "address") o.address = value;
      else if (name == "authkey-file") o.authkey_file = value;
      else if (name == "server-bin") o.server_bin = value;
      else if (name == "server-pid") o.server_pid = std::stoi(value);
      else if (name == "id") o.id = std::stoull(value);
      else if (name == "prefix") o.prefix = value;
      else Usage("unknown flag --" + name);
    } catch (const std::logic_error&) {
      Usage("bad value for --" + name + ": " + value);
    }
  }
  if (o.seconds <= 0 || o.workers < 1 || o.sessions < 1 || o.sessions > 255) {
    Usage("--seconds must be positive, --workers at least 1, --sessions 1 to 255");
  }
  if (o.kill_min <= 0 || o.kill_max < o.kill_min) Usage("need 0 < --kill-min <= --kill-max");
  if (o.transport != "mixed" && o.transport != "framed" && o.transport != "grpc") {
    Usage("--transport is mixed, framed or grpc");
  }
  if (!o.address.empty() && o.authkey_file.empty()) Usage("--address needs --authkey-file");
  return o;
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A field of /proc/PID/status as a number (VmRSS in KiB, Threads), or -1.
int64_t ProcStatus(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atoll(line.c_str() + field.size() + 1);
  }
  return -1;
}

struct Sample {
  int64_t rss_kib = -1;
  int64_t threads = -1;
};

Sample SampleServer(pid_t pid) {
  if (pid <= 0) return {};
  return Sample{ProcStatus(pid, "VmRSS"), ProcStatus(pid, "Threads")};
}

// Runs argv with stdin and stdout on the given descriptors (-1: inherited),
// stderr on err_fd (-1: inherited). The child dies with this process.
pid_t Spawn(const std::vector<std::string>& args, int in_fd, int out_fd, int err_fd) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    std::exit(1);
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec: this process has
    // threads (gRPC's) that the child does not have.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (in_fd >= 0) dup2(in_fd, STDIN_FILENO);
    if (out_fd >= 0) dup2(out_fd, STDOUT_FILENO);
    if (err_fd >= 0) dup2(err_fd, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// waitpid with a deadline: the status, or nullopt when it did not end.
std::optional<int> WaitFor(pid_t pid, std::chrono::duration<double> timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return std::nullopt;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
}

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// Everything the workers reported.
struct Ledger {
  std::map<char, std::vector<int64_t>> counters;
  QueueLedger queue, joinable;
  std::array<int64_t, kOpKinds> ops{};
  int64_t connected = 0;
  std::vector<std::string> violations, errors, malformed;

  void Line(const std::string& line) {
    if (line.empty()) return;
    std::istringstream in(line.substr(1));
    switch (line[0]) {
      case 'U': ++connected; return;
      case 'C': case 'S': case 'L': case 'R': case 'D': {
        int64_t v;
        if (in >> v) {
          counters[line[0]].push_back(v);
          return;
        }
        break;
      }
      case 'A': case 'P': case 'F': case 'G': {
        char q;
        uint64_t w, s, n;
        if (in >> q >> w >> s >> n && (q == 'q' || q == 'j')) {
          QueueLedger& l = q == 'q' ? queue : joinable;
          const uint64_t key = ItemKey(w, s, n);
          if (line[0] == 'A') l.attempted.insert(key);
          if (line[0] == 'P') l.acked.insert(key);
          if (line[0] == 'F') l.rejected.insert(key);
          if (line[0] == 'G') l.received.push_back(key);
          return;
        }
        break;
      }
      case 'N': {
        for (int k = 0; k < kOpKinds; ++k) {
          int64_t n = 0;
          if (!(in >> n)) break;
          ops[k] += n;
        }
        return;
      }
      case 'X': violations.push_back(line.substr(2)); return;
      case 'E': errors.push_back(line.substr(2)); return;
    }
    malformed.push_back(line);
  }
};

struct Worker {
  pid_t pid = -1;
  uint64_t id = 0;
  int out = -1;  // its stdout, read here
  int in = -1;   // its stdin, closed here to stop it
  std::string partial;
};

class Soak {
 public:
  explicit Soak(Options options) : o_(std::move(options)) {
    if (o_.seed == 0) o_.seed = static_cast<uint64_t>(Clock::now().time_since_epoch().count());
    rng_.seed(o_.seed);
  }

  int Run();

 private:
  void StartServer();
  void StopServer();
  void SpawnWorker(Worker& w);
  void ReadFrom(Worker& w, bool to_eof);
  // SIGKILLs the worker, waits for it, and takes its last lines.
  void Kill(Worker& w);
  void Close(Worker& w);
  void Pump(std::chrono::milliseconds timeout);
  void CheckWorkersAlive();
  bool ServerAlive();
  void Add(Check check) { checks_.push_back(std::move(check)); }
  // Deletes the dict keys, Namespace attributes and nested entries of killed
  // workers whose sessions have all ended on the server (so no call of
  // theirs can still arrive), keeping the objects' size flat over a long run.
  void CleanUp(const Manager& m, const Names& names);
  void Summary(double run_seconds, const Sample& warm, const Sample& end, const Sample& quiet);

  Options o_;
  std::mt19937_64 rng_;
  std::string dir_;
  std::string log_;
  pid_t server_pid_ = 0;
  bool own_server_ = false;
  std::vector<Worker> workers_;
  uint64_t next_id_ = 0;
  Ledger ledger_;
  int64_t kills_ = 0, run_kills_ = 0, restarts_ = 0, clean_stops_ = 0;
  std::vector<std::string> worker_failures_;
  std::vector<Check> checks_;
  // Killed workers whose entries are still to delete.
  std::vector<uint64_t> dead_;
  int64_t cleaned_ = 0;
};

void Soak::CleanUp(const Manager& m, const Names& names) {
  if (dead_.empty()) return;
  std::vector<std::string> live;
  for (const SessionInfo& s : m.sessions()) live.push_back(s.client);
  DictProxy dict = m.dict(names.dict);
  DictProxy nested = m.dict(names.nested);
  NamespaceProxy ns = m.Namespace(names.ns);
  std::vector<uint64_t> waiting;
  for (uint64_t id : dead_) {
    const std::string prefix = "soak w" + std::to_string(id) + "_s";
    if (std::any_of(live.begin(), live.end(),
                    [&](const std::string& c) { return c.rfind(prefix, 0) == 0; })) {
      waiting.push_back(id);
      continue;
    }
    for (int s = 0; s < o_.sessions; ++s) {
      const std::string key = "w" + std::to_string(id) + "_s" + std::to_string(s);
      dict.pop(key, shoal::Value());
      nested.pop(key, shoal::Value());
      try {
        ns.del(key);
      } catch (const AttributeError&) {
      }
    }
    ++cleaned_;
  }
  dead_ = std::move(waiting);
}

void Soak::StartServer() {
  char dir[] = "/tmp/shoal-soak-XXXXXX";
  if (mkdtemp(dir) == nullptr) Usage("cannot make a temporary directory");
  dir_ = dir;
  o_.authkey_file = dir_ + "/authkey";
  {
    std::ifstream random("/dev/urandom", std::ios::binary);
    char bytes[24];
    random.read(bytes, sizeof bytes);
    std::string key;
    for (unsigned char c : bytes) {
      static const char kHex[] = "0123456789abcdef";
      key += kHex[c >> 4];
      key += kHex[c & 15];
    }
    const int fd = open(o_.authkey_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    key += "\n";
    if (fd < 0 || write(fd, key.data(), key.size()) != static_cast<ssize_t>(key.size())) {
      Usage("cannot write " + o_.authkey_file);
    }
    close(fd);
  }
  std::string bin = o_.server_bin;
  if (bin.empty()) {
    if (const char* env = std::getenv("SHOAL_SERVER_BIN"); env != nullptr && env[0] != '\0') {
      bin = env;
    } else {
      char self[4096];
      const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
      if (n <= 0) Usage("cannot find this program's path; give --server-bin");
      std::string path(self, static_cast<size_t>(n));
      bin = path.substr(0, path.rfind('/')) + "/../server/shoal-server";
    }
  }
  if (access(bin.c_str(), X_OK) != 0) Usage("no shoal-server at " + bin + "; give --server-bin");
  log_ = dir_ + "/server.log";
  const int log_fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log_fd < 0) Usage("cannot write " + log_);
  std::ostringstream grace;
  grace << o_.stream_grace << "s";
  server_pid_ = Spawn({bin, "--listen=127.0.0.1:0", "--authkey-file=" + o_.authkey_file,
                       "--stream-grace=" + grace.str()},
                      -1, log_fd, log_fd);
  close(log_fd);
  own_server_ = true;
  const auto deadline = Clock::now() + 30s;
  const std::string marker = "listening on ";
  while (o_.address.empty()) {
    std::ifstream in(log_);
    std::string line;
    while (std::getline(in, line)) {
      if (size_t at = line.find(marker); at != std::string::npos) {
        o_.address = line.substr(at + marker.size());
      }
    }
    if (!o_.address.empty()) break;
    if (!ServerAlive() || Clock::now() > deadline) {
      std::fprintf(stderr, "shoal-soak: the server did not start; see %s\n", log_.c_str());
      std::exit(1);
    }
    std::this_thread::sleep_for(20ms);
  }
}

bool Soak::ServerAlive() {
  if (!own_server_) return o_.server_pid <= 0 || kill(o_.server_pid, 0) == 0;
  if (server_pid_ <= 0) return false;
  int status = 0;
  if (waitpid(server_pid_, &status, WNOHANG) == server_pid_) {
    worker_failures_.push_back("the server exited during the run: " + DescribeStatus(status));
    server_pid_ = -1;
    return false;
  }
  return true;
}

void Soak::StopServer() {
  if (!own_server_ || server_pid_ <= 0) return;
  kill(server_pid_, SIGTERM);
  const std::optional<int> status = WaitFor(server_pid_, 30s);
  if (!status) kill(server_pid_, SIGKILL), waitpid(server_pid_, nullptr, 0);
  Add(Check{"server shuts down cleanly on SIGTERM",
            status.has_value() && WIFEXITED(*status) && WEXITSTATUS(*status) == 0,
            status ? DescribeStatus(*status) : "did not stop within 30 s"});
  server_pid_ = -1;
}

void Soak::SpawnWorker(Worker& w) {
  w.id = ++next_id_;
  int out[2], in[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(in, O_CLOEXEC) != 0) {
    std::perror("pipe");
    std::exit(1);
  }
  w.pid = Spawn({"/proc/self/exe", "--worker", "--address=" + o_.address,
                 "--authkey-file=" + o_.authkey_file, "--prefix=" + o_.prefix,
                 "--id=" + std::to_string(w.id), "--sessions=" + std::to_string(o_.sessions),
                 "--seed=" + std::to_string(o_.seed), "--transport=" + o_.transport},
                in[0], out[1], -1);
  close(out[1]);
  close(in[0]);
  w.out = out[0];
  w.in = in[1];
  w.partial.clear();
}

void Soak::ReadFrom(Worker& w, bool to_eof) {
  char buffer[65536];
  for (;;) {
    const ssize_t n = read(w.out, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // a line cut by a kill stays in partial, unread
    w.partial.append(buffer, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = w.partial.find('\n', start)) != std::string::npos; start = nl + 1) {
      ledger_.Line(w.partial.substr(start, nl - start));
    }
    w.partial.erase(0, start);
    if (!to_eof) break;
  }
}

void Soak::Close(Worker& w) {
  ReadFrom(w, true);
  close(w.out);
  if (w.in >= 0) close(w.in);
  w.out = w.in = -1;
  w.pid = -1;
}

void Soak::Kill(Worker& w) {
  kill(w.pid, SIGKILL);
  waitpid(w.pid, nullptr, 0);
  ++kills_;
  dead_.push_back(w.id);
  Close(w);
}

void Soak::Pump(std::chrono::milliseconds timeout) {
  std::vector<pollfd> fds;
  for (const Worker& w : workers_) fds.push_back(pollfd{w.out, POLLIN, 0});
  if (poll(fds.data(), fds.size(), static_cast<int>(timeout.count())) <= 0) return;
  for (size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents & (POLLIN | POLLHUP)) ReadFrom(workers_[i], false);
  }
}

// A worker that ends without being killed or told to stop has failed: it is
// recorded and started again.
void Soak::CheckWorkersAlive() {
  for (Worker& w : workers_) {
    int status = 0;
    if (waitpid(w.pid, &status, WNOHANG) != w.pid) continue;
    worker_failures_.push_back("worker " + std::to_string(w.id) + " ended on its own: " +
                               DescribeStatus(status));
    Close(w);
    SpawnWorker(w);
    ++restarts_;
  }
}

int Soak::Run() {
  if (o_.address.empty()) StartServer();
  if (o_.prefix.empty()) o_.prefix = "soak" + std::to_string(getpid());
  const pid_t metrics_pid = own_server_ ? server_pid_ : o_.server_pid;
  const Names names(o_.prefix);
  const AuthKey key = AuthKey::from_file(o_.authkey_file);
  ConnectOptions connect;
  connect.timeout = 60s;
  connect.client_name = "soak parent";
  Manager m = Manager::connect(o_.address, key, connect);
  CreateObjects(m, names);
  const int64_t baseline_objects = static_cast<int64_t>(m.object_count());
  std::printf("shoal-soak: server %s, %d workers x %d sessions, %.0f s, seed %llu, transport %s\n",
              o_.address.c_str(), o_.workers, o_.sessions, o_.seconds,
              static_cast<unsigned long long>(o_.seed), o_.transport.c_str());
  std::fflush(stdout);

  // The run: workers work; one of them is killed and started again every
  // kill-min to kill-max seconds.
  workers_.resize(static_cast<size_t>(o_.workers));
  for (Worker& w : workers_) SpawnWorker(w);
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(o_.seconds));
  const auto warm_at = start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(
                                       std::clamp(o_.seconds * 0.2, 3.0, 60.0)));
  std::uniform_real_distribution<double> gap(o_.kill_min, o_.kill_max);
  auto next_kill = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(gap(rng_)));
  auto next_check = start;
  auto next_cleanup = start;
  std::optional<Sample> warm;
  bool server_died = false;
  while (Clock::now() < end) {
    const auto now = Clock::now();
    Pump(std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(next_kill - now), 0ms,
                    100ms));
    if (Clock::now() >= next_check) {
      next_check = Clock::now() + 100ms;
      if (!ServerAlive()) {
        server_died = true;
        break;
      }
      CheckWorkersAlive();
    }
    if (Clock::now() >= next_cleanup) {
      CleanUp(m, names);
      next_cleanup = Clock::now() + 1s;
    }
    if (!warm && Clock::now() >= warm_at) warm = SampleServer(metrics_pid);
    if (Clock::now() >= next_kill) {
      Worker& victim = workers_[rng_() % workers_.size()];
      Kill(victim);
      SpawnWorker(victim);
      ++restarts_;
      next_kill = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(gap(rng_)));
    }
  }
  const double run_seconds = SecondsSince(start);
  run_kills_ = kills_;
  const Sample end_sample = SampleServer(metrics_pid);
  if (!warm) warm = end_sample;

  // The end: half the workers are killed, the others told to stop, and they
  // must stop within a bound.
  std::vector<size_t> order(workers_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng_);
  for (size_t i = 0; i < order.size() / 2; ++i) Kill(workers_[order[i]]);
  for (size_t i = order.size() / 2; i < order.size(); ++i) {
    Worker& w = workers_[order[i]];
    close(w.in);
    w.in = -1;
  }
  for (size_t i = order.size() / 2; i < order.size(); ++i) {
    Worker& w = workers_[order[i]];
    // Reading while waiting: a worker blocked on a full pipe would never end.
    const auto deadline = Clock::now() + 60s;
    std::optional<int> status;
    while (!status && Clock::now() < deadline) {
      pollfd p{w.out, POLLIN, 0};
      if (poll(&p, 1, 50) > 0) ReadFrom(w, false);
      int s = 0;
      if (waitpid(w.pid, &s, WNOHANG) == w.pid) status = s;
    }
    if (!status) {
      worker_failures_.push_back("worker " + std::to_string(w.id) + " did not stop within 60 s");
      Kill(w);
      continue;
    }
    if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
      worker_failures_.push_back("worker " + std::to_string(w.id) + " stopped with " +
                                 DescribeStatus(*status));
    }
    ++clean_stops_;
    Close(w);
  }
  if (server_died || !ServerAlive()) {
    Add(Check{"server stays up", false, "the server exited during the run"});
  } else {
    Add(Check{"server stays up", true, "yes"});
  }

  const int64_t in_flight = kills_ * o_.sessions;
  if (!server_died) {
    // Every worker session must end on the server: the killed ones once the
    // stream grace has passed.
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(o_.stream_grace)) +
                          30s;
    std::vector<SessionInfo> sessions = m.sessions();
    while (sessions.size() > 1 && Clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
      sessions = m.sessions();
    }
    Add(CheckEqual("sessions back to the parent's alone", 1, static_cast<int64_t>(sessions.size())));
    const Sample quiet = SampleServer(metrics_pid);

    // Nothing held, nothing parked, on any object.
    int64_t held = 0, parked = 0;
    for (const ObjectInfo& info : m.objects()) {
      held += static_cast<int64_t>(info.holders.size());
      parked += info.waiting;
    }
    Add(CheckEqual("no holder left on any object", 0, held));
    Add(CheckEqual("no call left parked on any object", 0, parked));

    {
      // Named: the parent's proxies add no object.
      LockProxy lock = m.Lock(names.lock);
      RLockProxy rlock = m.RLock(names.rlock);
      ConditionProxy condition = m.Condition(names.condition);
      SemaphoreProxy semaphore = m.Semaphore(kSemaphoreValue, names.semaphore, PoolSemaphore());
      SemaphoreProxy bounded =
          m.BoundedSemaphore(kBoundedSemaphoreValue, names.bounded, PoolSemaphore());
      for (AcquirerProxy* p : std::vector<AcquirerProxy*>{&lock, &rlock, &condition}) {
        const bool got = p->acquire(true, 5s);
        if (got) p->release();
        Add(Check{std::string(KindName(p->kind())) + " free (acquired from the parent)", got,
                  got ? "acquired" : "still held after 5 s"});
      }
      for (SemaphoreProxy* s : {&semaphore, &bounded}) {
        const int64_t initial = s->bounded() ? kBoundedSemaphoreValue : kSemaphoreValue;
        Add(CheckEqual(std::string(KindName(s->kind())) + " value back to its initial count",
                       initial, s->value()));
        int64_t got = 0;
        while (got < initial && s->acquire(true, 5s)) ++got;
        if (got > 0) s->release(got);
        Add(CheckEqual(std::string(KindName(s->kind())) + " permits all acquirable", initial, got));
      }
      BarrierProxy barrier = m.Barrier(kBarrierParties, std::nullopt, names.barrier);
      Add(CheckEqual("Barrier has no party waiting", 0, barrier.n_waiting()));
    }

    // The counters.
    ValueProxy counter = m.Value("q", shoal::Value(0), names.counter);
    ValueProxy cas = m.Value("q", shoal::Value(0), names.cas);
    ValueProxy lock_count = m.Value("q", shoal::Value(0), names.lock_count);
    ValueProxy rlock_count = m.Value("q", shoal::Value(0), names.rlock_count);
    ValueProxy condition_count = m.Value("q", shoal::Value(0), names.condition_count);
    Add(CheckCounter("Value.add(1) applied once each", ledger_.counters['C'],
                     counter.get().as_int(), in_flight));
    Add(CheckCounter("compare_and_swap applied once each", ledger_.counters['S'],
                     cas.get().as_int(), in_flight));
    Add(CheckCounter("Lock excludes (get+set under it)", ledger_.counters['L'],
                     lock_count.get().as_int(), in_flight));
    Add(CheckCounter("RLock excludes (get+set under it)", ledger_.counters['R'],
                     rlock_count.get().as_int(), in_flight));
    Add(CheckCounter("Condition's lock excludes (get+set under it)", ledger_.counters['D'],
                     condition_count.get().as_int(), in_flight));

    // The queues: drained here, then every item accounted for.
    for (auto [name, ledger] : {std::pair{names.queue, &ledger_.queue},
                                std::pair{names.joinable, &ledger_.joinable}}) {
      const bool joinable = ledger == &ledger_.joinable;
      QueueProxy q = joinable ? m.JoinableQueue(kQueueMaxsize, name) : m.Queue(kQueueMaxsize, name);
      int64_t drained = 0;
      for (;;) {
        shoal::Value item;
        try {
          item = q.get(false);
        } catch (const Empty&) {
          break;
        }
        const shoal::Value::List& f = item.as_list();
        ledger->received.push_back(ItemKey(static_cast<uint64_t>(f.at(0).as_int()),
                                           static_cast<uint64_t>(f.at(1).as_int()),
                                           static_cast<uint64_t>(f.at(2).as_int())));
        if (joinable) q.task_done();
        ++drained;
      }
      Check check = CheckQueue(std::string(joinable ? "JoinableQueue" : "Queue") +
                                   " items received exactly once",
                               *ledger, in_flight);
      check.detail += ", " + std::to_string(drained) + " drained at the end";
      Add(check);
    }

    // Objects: the baseline, plus one anonymous object per nested entry;
    // the baseline alone once those are gone.
    DictProxy nested = m.dict(names.nested);
    const int64_t entries = static_cast<int64_t>(nested.len());
    Add(CheckEqual("objects = baseline + nested entries (" + std::to_string(entries) + ")",
                   baseline_objects + entries, static_cast<int64_t>(m.object_count())));
    nested.clear();
    m.dict(names.dict).clear();
    m.list(names.list).clear();
    NamespaceProxy ns = m.Namespace(names.ns);
    for (const auto& [attr, value] : ns.attrs()) ns.del(attr);
    Add(CheckEqual("objects back to the baseline", baseline_objects,
                   static_cast<int64_t>(m.object_count())));

    if (metrics_pid > 0) {
      Add(CheckGrowth("server RSS after warm-up -> end of load", warm->rss_kib,
                      end_sample.rss_kib, 1.5, 20 * 1024, "KiB"));
      Add(CheckGrowth("server threads after warm-up -> end of load", warm->threads,
                      end_sample.threads, 1.0, 4, "threads"));
      Add(CheckGrowth("server threads after warm-up -> sessions ended", warm->threads,
                      quiet.threads, 1.0, 4, "threads"));
    }
    Summary(run_seconds, *warm, end_sample, quiet);
  } else {
    Summary(run_seconds, *warm, end_sample, Sample{});
  }
  if (!own_server_) {
    for (const std::string& name :
         {names.list, names.dict, names.ns, names.counter, names.cas, names.lock, names.lock_count,
          names.rlock, names.rlock_count, names.semaphore, names.bounded, names.condition,
          names.condition_count, names.event, names.barrier, names.queue, names.joinable,
          names.nested}) {
      try {
        m.delete_named(name);
      } catch (const Error&) {
      }
    }
  }
  m.close();
  StopServer();

  bool ok = true;
  std::printf("\ninvariants:\n");
  for (const Check& c : checks_) {
    std::printf("  [%s] %s: %s\n", c.ok ? " ok " : "FAIL", c.name.c_str(), c.detail.c_str());
    ok = ok && c.ok;
  }
  std::printf("result: %s\n", ok ? "PASS" : "FAIL");
  if (!ok && own_server_) std::printf("server log: %s\n", log_.c_str());
  if (ok && own_server_) {
    unlink(log_.c_str());
    unlink(o_.authkey_file.c_str());
    rmdir(dir_.c_str());
  }
  return ok ? 0 : 1;
}

void Soak::Summary(double run_seconds, const Sample& warm, const Sample& end,
                   const Sample& quiet) {
  // What the workers said must be clean too; these checks join the others.
  Add(CheckEqual("workers saw no broken invariant", 0,
                 static_cast<int64_t>(ledger_.violations.size())));
  Add(CheckEqual("no unexpected error", 0, static_cast<int64_t>(ledger_.errors.size())));
  Add(CheckEqual("no malformed report line", 0, static_cast<int64_t>(ledger_.malformed.size())));
  Add(CheckEqual("workers ended only when killed or told to", 0,
                 static_cast<int64_t>(worker_failures_.size())));
  auto some = [](const char* what, const std::vector<std::string>& lines) {
    for (size_t i = 0; i < lines.size() && i < 10; ++i) {
      std::printf("  %s: %s\n", what, lines[i].c_str());
    }
  };
  some("violation", ledger_.violations);
  some("error", ledger_.errors);
  some("malformed", ledger_.malformed);
  some("worker", worker_failures_);

  int64_t total = 0;
  for (int64_t n : ledger_.ops) total += n;
  std::printf("\nsummary:\n");
  std::printf("  duration          %.1f s of load\n", run_seconds);
  std::printf("  sessions          %d at once (%d workers x %d), %lld connected in all\n",
              o_.workers * o_.sessions, o_.workers, o_.sessions,
              static_cast<long long>(ledger_.connected));
  std::printf("  kills             %lld (SIGKILL; %lld during the run, %lld at the end)\n",
              static_cast<long long>(kills_), static_cast<long long>(run_kills_),
              static_cast<long long>(kills_ - run_kills_));
  std::printf("  restarts          %lld; stopped cleanly at the end %lld\n",
              static_cast<long long>(restarts_), static_cast<long long>(clean_stops_));
  std::printf("  cleaned up        the entries of %lld killed workers, once their sessions ended\n",
              static_cast<long long>(cleaned_));
  std::printf("  operations        %lld acknowledged, %.0f/s (an operation is 1 to 4 calls)\n",
              static_cast<long long>(total), total / run_seconds);
  for (int k = 0; k < kOpKinds; ++k) {
    std::printf("    %-18s %lld\n", OpKindName(k), static_cast<long long>(ledger_.ops[k]));
  }
  std::printf("  acknowledged      add %zu, cas %zu, Lock %zu, RLock %zu, Condition %zu\n",
              ledger_.counters['C'].size(), ledger_.counters['S'].size(),
              ledger_.counters['L'].size(), ledger_.counters['R'].size(),
              ledger_.counters['D'].size());
  std::printf("                    Queue puts %zu gets %zu, JoinableQueue puts %zu gets %zu\n",
              ledger_.queue.acked.size(), ledger_.queue.received.size(),
              ledger_.joinable.acked.size(), ledger_.joinable.received.size());
  std::printf("  server RSS        %lld KiB after warm-up, %lld at the end of load, %lld idle\n",
              static_cast<long long>(warm.rss_kib), static_cast<long long>(end.rss_kib),
              static_cast<long long>(quiet.rss_kib));
  std::printf("  server threads    %lld after warm-up, %lld at the end of load, %lld idle\n",
              static_cast<long long>(warm.threads), static_cast<long long>(end.threads),
              static_cast<long long>(quiet.threads));
}

}  // namespace
}  // namespace shoal::soak

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  shoal::soak::Options options = shoal::soak::Parse(argc, argv);
  if (options.worker) {
    shoal::soak::WorkerOptions w;
    w.address = options.address;
    w.authkey_file = options.authkey_file;
    w.prefix = options.prefix;
    w.id = options.id;
    w.sessions = options.sessions;
    w.seed = options.seed;
    w.transport = options.transport;
    return shoal::soak::RunWorker(w);
  }
  try {
    return shoal::soak::Soak(std::move(options)).Run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shoal-soak: %s\n", e.what());
    return 1;
  }
}
