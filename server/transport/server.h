// shoal-server: the gRPC server (every service, reflection and health) on
// one address, and the framed transport on another. The server binds both
// itself and accepts on both with one Acceptor, which hands each gRPC
// connection to gRPC and each framed one to the FramedServer. With TLS, gRPC
// binds and accepts on its own port, with gRPC's TLS credentials: gRPC takes
// connections from a descriptor only without them.
#ifndef SHOAL_SERVER_TRANSPORT_SERVER_H_
#define SHOAL_SERVER_TRANSPORT_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/core.h"
#include "server/transport/tls_context.h"

namespace shoal::server {

struct ServerOptions {
  // "host:port" (port 0 picks a free one) or "unix:PATH".
  std::string listen = "127.0.0.1:50051";
  // Where the framed transport of the session stream listens: "auto" (the
  // host of listen with a free port, or for unix:PATH the socket PATH.framed),
  // "none", "host:port" or "unix:PATH".
  std::string session_listen = "auto";
  // Event-loop threads of the framed transport.
  int session_threads = 2;
  // How long an event-loop thread that has been busy polls for the next
  // event before it sleeps (see EventLoop); zero: it never polls.
  absl::Duration session_poll = absl::Microseconds(50);
  // Whether the replies an event-loop thread makes in one turn for TCP
  // connections go out together, through io_uring where the kernel allows
  // it (SendBatch).
  bool session_batch_sends = true;
  // Most connections open at once, on both ports together (0: no limit).
  int64_t max_connections = 0;
  // TLS on both ports, with the same files; off when tls.cert_file is
  // empty. With TLS, gRPC listens on its port itself (its TLS needs a
  // listening port of its own), so max_connections counts the framed
  // port's connections only.
  TlsFiles tls;
  // core.max_message_bytes also sets the transport's limit.
  CoreOptions core;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving; returns the address bound, with the port
  // chosen when 0 was asked for.
  absl::StatusOr<std::string> Start();
  // Stops taking calls, ends the open ones within the grace, and returns.
  void Shutdown(absl::Duration grace);
  // Blocks until Shutdown has finished.
  void Wait();

  Core& core() { return *core_; }

 private:
  struct Services;
  const ServerOptions options_;
  std::unique_ptr<Core> core_;
  std::unique_ptr<Services> services_;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_SERVER_H_
