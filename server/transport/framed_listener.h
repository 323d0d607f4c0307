// The listening socket of the framed transport: binds a TCP address
// ("host:port", port 0 picks a free one) or a unix socket ("unix:PATH"), and
// accepts connections with the socket options the transport relies on.
//
// Not thread-safe: Bind, then Accept from one thread (the event loop that
// watches fd()), then Close once that thread has stopped.
#ifndef SHOAL_SERVER_TRANSPORT_FRAMED_LISTENER_H_
#define SHOAL_SERVER_TRANSPORT_FRAMED_LISTENER_H_

#include <string>

#include "absl/status/statusor.h"
#include "shoal/v1/session.pb.h"

namespace shoal::server {

class FramedListener {
 public:
  FramedListener() = default;
  ~FramedListener() { Close(); }
  FramedListener(const FramedListener&) = delete;
  FramedListener& operator=(const FramedListener&) = delete;

  // Binds and listens, non-blocking. Returns where clients connect: the port
  // bound, or the unix socket's path.
  absl::StatusOr<v1::FramedEndpoint> Bind(const std::string& address);

  // A new connection's descriptor (non-blocking, close-on-exec, TCP options
  // set), or -1 when none is waiting.
  int Accept();

  // Closes the socket, and removes a unix socket's file. Idempotent.
  void Close();

  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string unix_path_;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_FRAMED_LISTENER_H_
