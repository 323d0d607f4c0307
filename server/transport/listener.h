// A listening socket of the server, for either port (gRPC or framed): binds a
// TCP address ("host:port", port 0 picks a free one) or a unix socket
// ("unix:PATH"), and accepts connections with the socket options both
// transports rely on.
//
// An address another process listens on is an error, never shared: TCP
// sockets do not set SO_REUSEPORT, and a unix socket is guarded by a lock
// file, PATH.lock, held (flock) for as long as the listener lives. A socket
// file without a live holder of its lock is left over by a server that is gone,
// and is replaced; only the holder removes the files.
//
// Not thread-safe: Bind, then Accept from one thread, then Close once that
// thread has stopped.
#ifndef SHOAL_SERVER_TRANSPORT_LISTENER_H_
#define SHOAL_SERVER_TRANSPORT_LISTENER_H_

#include <string>

#include "absl/status/status.h"

namespace shoal::server {

// The TCP keepalive of every accepted connection: a client whose host
// vanishes sends no FIN, so after kKeepaliveIdleSeconds of silence probes go
// out every kKeepaliveIntervalSeconds, and kKeepaliveProbes unanswered ones
// end the connection.
inline constexpr int kKeepaliveIdleSeconds = 30;
inline constexpr int kKeepaliveIntervalSeconds = 10;
inline constexpr int kKeepaliveProbes = 3;
// TCP_USER_TIMEOUT: how long sent data may stay unacknowledged. It also
// bounds the keepalive probing, so it is the whole of it (idle + interval x
// probes): shorter, and a single unanswered probe would end the connection.
inline constexpr unsigned int kTcpUserTimeoutMs =
    1000u * (kKeepaliveIdleSeconds + kKeepaliveIntervalSeconds * kKeepaliveProbes);

class Listener {
 public:
  Listener() = default;
  ~Listener() { Close(); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Binds and listens, non-blocking. An address in use fails with a message
  // that says so.
  absl::Status Bind(const std::string& address);

  // A new connection's descriptor (non-blocking, close-on-exec, TCP options
  // set), or -1 with errno set (EAGAIN when none is waiting).
  int Accept();

  // Closes the socket; a unix socket's owner removes its files. Idempotent.
  void Close();

  int fd() const { return fd_; }
  // The TCP port bound (0 for a unix socket).
  int port() const { return port_; }
  // The unix socket's path ("" for TCP).
  const std::string& unix_path() const { return unix_path_; }
  // The address as given to Bind.
  const std::string& address() const { return address_; }

 private:
  absl::Status BindUnix();
  absl::Status BindTcp();

  std::string address_;
  int fd_ = -1;
  int port_ = 0;
  std::string unix_path_;
  // The lock file of a unix socket, held while fd_ is open.
  int lock_fd_ = -1;
  std::string lock_path_;
};

// How a gRPC peer on fd is named ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000",
// "unix:"), as gRPC names the peers of the sockets it accepts itself; "" if
// fd is not a connected socket.
std::string SocketPeerName(int fd);

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_LISTENER_H_
