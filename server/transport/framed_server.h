// The framed transport of the session stream (see FramedEndpoint in
// session.proto): ClientFrame and ServerFrame messages, each after its
// length, over plain TCP or unix sockets. The server ties the pieces
// together: a few event-loop threads (EventLoop), and the open connections
// (FramedConnection), each of which belongs to one loop, handed out in turn
// as the server's Acceptor passes them on.
//
// Start, then End and Stop from one thread (the server's); Adopt from one
// thread (the acceptor's); the loops run on their own threads.
#ifndef SHOAL_SERVER_TRANSPORT_FRAMED_SERVER_H_
#define SHOAL_SERVER_TRANSPORT_FRAMED_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "server/core/core.h"
#include "server/transport/dispatch.h"
#include "server/transport/event_loop.h"
#include "server/transport/handshake.h"
#include "server/transport/pending_logins.h"
#include "server/transport/send_batch.h"
#include "shared/mutex.h"
#include "shoal/v1/session.pb.h"

namespace shoal::server {

class FramedConnection;
class TlsContext;

class FramedServer {
 public:
  // Connections that log in by themselves run handshake's steps.
  FramedServer(Core& core, const Dispatcher& dispatcher, const Handshake& handshake);
  ~FramedServer();
  FramedServer(const FramedServer&) = delete;
  FramedServer& operator=(const FramedServer&) = delete;

  // Starts threads loop threads, each polling for up to poll before it
  // sleeps (EventLoop), and sending the replies of each turn for TCP
  // connections together (SendBatch) with io_uring if batch_sends. With tls, every connection
  // speaks TLS, with the context's files as they are when it is accepted.
  absl::Status Start(int threads, TlsContext* tls = nullptr,
                     absl::Duration poll = absl::ZeroDuration(), bool batch_sends = true);

  // Serves a connection just accepted, and owns its descriptor.
  void Adopt(int fd) ABSL_LOCKS_EXCLUDED(mu_);

  // What a connection refused before it is served is sent: the last frame,
  // with status as its StreamEnd.
  static std::string Refusal(const absl::Status& status);

  // Ends every connection (UNAVAILABLE) for a server shutting down: parked
  // calls are cancelled, and each connection ends once they are answered.
  void End() ABSL_LOCKS_EXCLUDED(mu_);

  // Stops the loops and closes the listener and the connections. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Loop thread: the events of one connection.
  void Serve(void* tag, uint32_t events);
  // Forgets a connection that its loop will not serve again.
  void Forget(FramedConnection* connection) ABSL_LOCKS_EXCLUDED(mu_);

  Core& core_;
  const Dispatcher& dispatcher_;
  const Handshake& handshake_;
  TlsContext* tls_ = nullptr;
  std::vector<std::unique_ptr<EventLoop>> loops_;
  // The replies of each loop's turns, one batch per loop (the same index).
  std::vector<std::unique_ptr<SendBatch>> batches_;
  size_t next_loop_ = 0;  // touched by Adopt only
  // The connections not logged in yet: each closed if it does not log in
  // within core.options().login_timeout, at most max_pending_logins at once.
  PendingLogins pending_logins_;

  Mutex mu_;
  absl::flat_hash_map<FramedConnection*, std::shared_ptr<FramedConnection>> connections_
      ABSL_GUARDED_BY(mu_);
  bool ending_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_FRAMED_SERVER_H_
