// The framed transport of the session stream (see FramedEndpoint in
// session.proto): ClientFrame and ServerFrame messages, each after its
// length, over plain TCP or unix sockets, served by a few event-loop threads.
//
// Each connection belongs to one loop thread, which reads its frames,
// dispatches their calls and writes the replies that are ready when the
// frame is done, in one write: a call that does not park is read, run and
// answered by one thread, with no hand-over. Replies that complete later
// (a parked call granted by another session) are written by the thread that
// completes them. Writes never block: what the socket does not take waits
// for it to drain, and a connection whose unsent replies pile up is not read
// until they drain.
#ifndef SHOAL_SERVER_TRANSPORT_FRAMED_SERVER_H_
#define SHOAL_SERVER_TRANSPORT_FRAMED_SERVER_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "server/core/core.h"
#include "server/transport/dispatch.h"
#include "shared/mutex.h"
#include "shoal/v1/session.pb.h"

namespace shoal::server {

class FramedConnection;

class FramedServer {
 public:
  FramedServer(Core& core, const Dispatcher& dispatcher);
  ~FramedServer();
  FramedServer(const FramedServer&) = delete;
  FramedServer& operator=(const FramedServer&) = delete;

  // Binds address ("host:port", port 0 picks a free one, or "unix:PATH")
  // and starts threads loop threads. Returns what clients are told.
  absl::StatusOr<v1::FramedEndpoint> Start(const std::string& address, int threads);

  // Ends every connection (UNAVAILABLE) for a server shutting down: parked
  // calls are cancelled, and each connection ends once they are answered.
  void End() ABSL_LOCKS_EXCLUDED(mu_);

  // Stops the loops and closes the listener and the connections. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class FramedConnection;
  struct Loop;

  void Run(Loop& loop);
  void Accept();
  // Forgets a connection that its loop will not serve again.
  void Forget(FramedConnection* connection) ABSL_LOCKS_EXCLUDED(mu_);

  Core& core_;
  const Dispatcher& dispatcher_;
  int listen_fd_ = -1;
  std::string unix_path_;
  std::vector<std::unique_ptr<Loop>> loops_;
  size_t next_loop_ = 0;  // touched by loop 0 (Accept) only

  Mutex mu_;
  absl::flat_hash_map<FramedConnection*, std::shared_ptr<FramedConnection>> connections_
      ABSL_GUARDED_BY(mu_);
  bool ending_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_FRAMED_SERVER_H_
