#include "server/serve.h"

#include <signal.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/transport/server.h"
#include "shared/authkey_file.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "Address to serve on: host:port (port 0 picks a free port) or unix:PATH");
ABSL_FLAG(std::string, session_listen, "auto",
          "Where the framed transport of the session stream listens: auto (the host of "
          "--listen with a free port, or unix:PATH.framed), none, host:port or unix:PATH. "
          "Clients learn it at login and fall back to the gRPC stream without it");
ABSL_FLAG(int32_t, session_threads, 2, "Event-loop threads of the framed transport");
ABSL_FLAG(absl::Duration, session_poll, absl::Microseconds(50),
          "How long an event-loop thread of the framed transport polls for the next event "
          "before it sleeps, while events come closer together than that (waking a thread "
          "can cost more than a call), and while it is not kept waiting for a core; 0 never "
          "polls");
ABSL_FLAG(bool, session_batch_sends, true,
          "Send the replies an event-loop thread of the framed transport makes in one turn "
          "(the events of one wait) for TCP connections together at the turn's end, in "
          "io_uring submissions of up to 16 sends (where the kernel has no io_uring or "
          "forbids it, each connection's with its own send); false sends each connection's "
          "replies at once");
ABSL_FLAG(int64_t, max_connections, 0,
          "Most connections open at once, on both ports together; one more is refused "
          "with RESOURCE_EXHAUSTED. 0: the descriptor limit (raised at start to the hard "
          "limit) less 64 kept for the server's own use, and at least half the limit");
ABSL_FLAG(std::string, authkey_file, "",
          "File holding the authkey; created with a new random key if it does not exist. "
          "Without it the key comes from $SHOAL_AUTHKEY, or a new one is generated into a "
          "private temporary file");
ABSL_FLAG(absl::Duration, lease, absl::Seconds(30),
          "A session without a stream (grpcurl) ends this long after its last call; one "
          "with a stream, this long after the last frame it sent (clients send heartbeats "
          "every third of it), so that a frozen client's locks go to the next waiter");
ABSL_FLAG(absl::Duration, stream_grace, absl::Seconds(2),
          "A session whose stream broke ends this long after, unless it comes back");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate (chain) of the server: TLS on both ports, plaintext refused");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls-cert-file");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA: clients must present a certificate it signed (mutual TLS)");
ABSL_FLAG(int64_t, max_objects, 1000000, "Most objects held at once (0: no limit)");
ABSL_FLAG(int64_t, max_bytes, int64_t{1} << 30, "Most bytes held in objects (0: no limit)");
ABSL_FLAG(int64_t, max_parked_per_session, 65536,
          "Most calls one session may have waiting at once (0: no limit); each also counts "
          "320 bytes against --max-bytes");
ABSL_FLAG(int32_t, max_message_bytes, 16 << 20, "Largest message accepted or sent");
ABSL_FLAG(absl::Duration, login_timeout, absl::Seconds(10),
          "A connection that has not logged in this long after it was accepted is closed "
          "(the framed transport: its first frame carries the session token), and a gRPC "
          "connection with no call open this long");
ABSL_FLAG(int32_t, max_pending_logins, 1024,
          "Most framed connections waiting to log in at once; past it the oldest is closed");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(2),
          "On SIGINT or SIGTERM, how long open calls get to finish");

namespace {

struct LoadedKey {
  std::string key;
  std::string origin;
  // How a client names the same key: AuthKey::from_file("...") or from_env().
  std::string client_expression;
};

std::string FromFile(const std::string& path) {
  return absl::StrCat("shoal::AuthKey::from_file(\"", path, "\")");
}

absl::StatusOr<LoadedKey> LoadKey() {
  const std::string path = absl::GetFlag(FLAGS_authkey_file);
  if (!path.empty()) {
    absl::StatusOr<std::string> key = shoal::ReadAuthKeyFile(path);
    if (key.ok()) return LoadedKey{*key, absl::StrCat("read from ", path), FromFile(path)};
    if (access(path.c_str(), F_OK) == 0) return key.status();
    key = shoal::GenerateAuthKeyFile(path);
    if (!key.ok()) return key.status();
    return LoadedKey{*key, absl::StrCat("generated, written to ", path, " (mode 0600)"),
                     FromFile(path)};
  }
  if (const char* env = std::getenv("SHOAL_AUTHKEY"); env != nullptr && env[0] != '\0') {
    return LoadedKey{env, "from $SHOAL_AUTHKEY", "shoal::AuthKey::from_env()"};
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = absl::StrCat(tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp",
                                 "/shoal-XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("cannot make a directory for the authkey: ", dir));
  }
  const std::string generated = dir + "/authkey";
  absl::StatusOr<std::string> key = shoal::GenerateAuthKeyFile(generated);
  if (!key.ok()) return key.status();
  return LoadedKey{*key, absl::StrCat("generated, written to ", generated, " (mode 0600)"),
                   FromFile(generated)};
}

// Each connection is a descriptor: the soft limit (often 1024) is raised to
// the hard one, which needs no privilege. Returns the limit now in force.
int64_t RaiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  const rlim_t before = limit.rlim_cur;
  if (limit.rlim_cur != limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (before == limit.rlim_cur) {
    std::printf("descriptors: %llu\n", static_cast<unsigned long long>(limit.rlim_cur));
  } else {
    std::printf("descriptors: %llu -> %llu\n", static_cast<unsigned long long>(before),
                static_cast<unsigned long long>(limit.rlim_cur));
  }
  return limit.rlim_cur == RLIM_INFINITY ? 0 : static_cast<int64_t>(limit.rlim_cur);
}

// The default of --max-connections: room for the server's own descriptors
// (its threads, epoll sets, files), so that at the limit a connection is
// refused with words rather than dropped for want of a descriptor.
int64_t DefaultMaxConnections(int64_t descriptors) {
  constexpr int64_t kReserve = 64;
  if (descriptors <= 0) return 0;
  return std::max(descriptors - kReserve, descriptors / 2);
}

// Abseil flags are spelled with underscores; accept the dashes people type
// too (--authkey-file), by rewriting the name part of each --flag.
void AcceptDashedFlags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* arg = argv[i];
    if (arg[0] != '-' || arg[1] != '-') continue;
    if (arg[2] == '\0') break;  // "--" ends the flags
    for (char* c = arg + 2; *c != '\0' && *c != '='; ++c) {
      if (*c == '-') *c = '_';
    }
  }
}

}  // namespace

namespace shoal::server {

int Serve(int argc, char** argv) {
  AcceptDashedFlags(argc, argv);
  absl::ParseCommandLine(argc, argv);
#ifdef NDEBUG
  // Abseil's lock-order checking records every acquisition in a graph: a
  // debugging aid (Debug and sanitizer builds keep it), a cost on every call
  // of a release build.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif

  // Signals are taken by one thread with sigwait; block them before any other
  // thread starts, so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const int64_t descriptors = RaiseDescriptorLimit();
  int64_t max_connections = absl::GetFlag(FLAGS_max_connections);
  if (max_connections < 0) {
    std::fprintf(stderr, "shoal-server: --max-connections must be 0 or more\n");
    return 2;
  }
  if (max_connections == 0) max_connections = DefaultMaxConnections(descriptors);

  absl::StatusOr<LoadedKey> key = LoadKey();
  if (!key.ok()) {
    std::fprintf(stderr, "shoal-server: authkey: %s\n", std::string(key.status().message()).c_str());
    return 2;
  }

  // The gRPC port takes the timeout in milliseconds, as an int.
  if (absl::GetFlag(FLAGS_login_timeout) <= absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_login_timeout) > absl::Hours(24)) {
    std::fprintf(stderr, "shoal-server: --login-timeout must be positive and at most 24h\n");
    return 2;
  }

  // A poll is a spin of its thread: longer than a few milliseconds it would
  // only burn a core.
  if (absl::GetFlag(FLAGS_session_poll) < absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_session_poll) > absl::Milliseconds(10)) {
    std::fprintf(stderr, "shoal-server: --session-poll must be between 0 and 10ms\n");
    return 2;
  }

  // Clients send a heartbeat every third of the lease, and the server looks
  // for silent sessions ten times a second: a shorter lease would end
  // sessions that are alive.
  if (absl::GetFlag(FLAGS_lease) < absl::Milliseconds(500)) {
    std::fprintf(stderr, "shoal-server: --lease must be at least 500ms\n");
    return 2;
  }

  shoal::server::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.session_listen = absl::GetFlag(FLAGS_session_listen);
  options.session_threads = absl::GetFlag(FLAGS_session_threads);
  options.session_poll = absl::GetFlag(FLAGS_session_poll);
  options.session_batch_sends = absl::GetFlag(FLAGS_session_batch_sends);
  options.max_connections = max_connections;
  options.tls.cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  options.tls.key_file = absl::GetFlag(FLAGS_tls_key_file);
  options.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  options.core.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.core.authkey = key->key;
  options.core.lease = absl::GetFlag(FLAGS_lease);
  options.core.stream_grace = absl::GetFlag(FLAGS_stream_grace);
  options.core.max_objects = absl::GetFlag(FLAGS_max_objects);
  options.core.max_bytes = absl::GetFlag(FLAGS_max_bytes);
  options.core.login_timeout = absl::GetFlag(FLAGS_login_timeout);
  options.core.max_pending_logins =
      static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_max_pending_logins)));
  options.core.max_parked_per_session = absl::GetFlag(FLAGS_max_parked_per_session);
  shoal::server::Server server(options);
  absl::StatusOr<std::string> address = server.Start();
  if (!address.ok()) {
    std::fprintf(stderr, "shoal-server: %s\n", std::string(address.status().message()).c_str());
    return 1;
  }
  if (max_connections > 0) {
    std::printf("connections: at most %lld (--max-connections)\n",
                static_cast<long long>(max_connections));
  }
  std::printf("shoal-server listening on %s\n", address->c_str());
  std::printf("authkey: %s\n", key->origin.c_str());
  std::printf("connect: shoal::Manager::connect(\"%s\", %s)\n", address->c_str(),
              key->client_expression.c_str());
  if (options.tls.enabled()) {
    std::printf("tls: %s%s\n", options.tls.cert_file.c_str(),
                options.tls.client_ca_file.empty() ? "" : " (client certificates required)");
    std::printf("health:  grpcurl -cacert CA.pem %s grpc.health.v1.Health/Check\n",
                address->c_str());
  } else {
    std::printf("health:  grpcurl -plaintext %s grpc.health.v1.Health/Check\n", address->c_str());
  }
  std::fflush(stdout);

  std::thread waiter([&server, &signals] {
    int received = 0;
    sigwait(&signals, &received);
    std::printf("shoal-server: signal %d, shutting down\n", received);
    std::fflush(stdout);
    server.Shutdown(absl::GetFlag(FLAGS_shutdown_grace));
  });
  server.Wait();
  waiter.join();
  std::printf("shoal-server: stopped\n");
  return 0;
}

}  // namespace shoal::server
