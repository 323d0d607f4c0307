#include "server/transport/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

absl::Status SystemError(absl::string_view what, int error) {
  return error::ValueError(absl::StrCat(what, ": ", std::strerror(error)));
}

void SetTcpOptions(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &kKeepaliveIdleSeconds, sizeof(int));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &kKeepaliveIntervalSeconds, sizeof(int));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &kKeepaliveProbes, sizeof(int));
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &kTcpUserTimeoutMs, sizeof(unsigned int));
}

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// Whether a process accepts connections on the unix socket at addr.
bool SomeoneListens(const sockaddr_un& addr) {
  const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return false;
  const bool listens =
      connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0 ||
      errno == EAGAIN;  // a full backlog: alive all the same
  close(probe);
  return listens;
}

}  // namespace

absl::Status Listener::Bind(const std::string& address) {
  address_ = address;
  absl::Status bound = absl::StartsWith(address, "unix:") ? BindUnix() : BindTcp();
  if (bound.ok() && listen(fd_, SOMAXCONN) != 0) bound = SystemError("listen", errno);
  if (!bound.ok()) Close();
  return bound;
}

absl::Status Listener::BindUnix() {
  const std::string path = address_.substr(5);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return error::ValueError(absl::StrCat("unix socket path too long or empty: ", path));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

  // The lock first: whoever holds it owns the socket's path.
  const std::string lock_path = path + ".lock";
  for (int attempt = 0; attempt < 8 && lock_fd_ < 0; ++attempt) {
    const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return SystemError(absl::StrCat("cannot open the lock file ", lock_path), errno);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      close(fd);
      if (error == EWOULDBLOCK) {
        return error::ValueError(absl::StrCat("address ", address_,
                                              " is in use (another shoal-server holds ",
                                              lock_path, ")"));
      }
      return SystemError(absl::StrCat("cannot lock ", lock_path), error);
    }
    // The owner removes the lock file as it stops: a lock taken on a file
    // removed meanwhile guards nothing, and the file now named is tried.
    struct stat held, named;
    if (fstat(fd, &held) == 0 && stat(lock_path.c_str(), &named) == 0 &&
        SameFile(held, named)) {
      lock_fd_ = fd;
      lock_path_ = lock_path;
    } else {
      close(fd);
    }
  }
  if (lock_fd_ < 0) return error::ValueError(absl::StrCat("cannot lock ", lock_path));

  // A socket file here is a dead server's, unless a process without the lock
  // (an older server) still listens on it.
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return error::ValueError(absl::StrCat("cannot listen on ", address_, ": ", path,
                                            " exists and is not a socket"));
    }
    if (SomeoneListens(addr)) {
      return error::ValueError(
          absl::StrCat("address ", address_, " is in use (another shoal-server?)"));
    }
    unlink(path.c_str());
  }
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return SystemError("socket", errno);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return SystemError(absl::StrCat("cannot listen on ", address_), errno);
  }
  unix_path_ = path;
  return absl::OkStatus();
}

absl::Status Listener::BindTcp() {
  const size_t colon = address_.rfind(':');
  if (colon == std::string::npos) {
    return error::ValueError(absl::StrCat("expected host:port or unix:PATH, got ", address_));
  }
  std::string host = address_.substr(0, colon);
  const std::string port = address_.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    return error::ValueError(absl::StrCat("cannot resolve ", address_, ": ", gai_strerror(rc)));
  }
  // One socket for the address. Of what the name resolves to: the IPv6
  // wildcard, as a dual-stack socket that takes IPv4 too (an empty host or
  // [::]); else the first IPv4 address (localhost resolves to ::1 first on
  // many hosts, while clients and tools mostly try 127.0.0.1); else the
  // first. Clients try each address a name resolves to.
  const addrinfo* chosen = nullptr;
  bool dual_stack = false;
  for (const addrinfo* at = found; at != nullptr && !dual_stack; at = at->ai_next) {
    if (at->ai_family == AF_INET6 &&
        IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(at->ai_addr)->sin6_addr)) {
      chosen = at;
      dual_stack = true;
    } else if (at->ai_family == AF_INET && (chosen == nullptr || chosen->ai_family != AF_INET)) {
      chosen = at;
    }
  }
  if (chosen == nullptr) chosen = found;
  fd_ = socket(chosen->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    freeaddrinfo(found);
    return SystemError("socket", errno);
  }
  if (dual_stack) {
    const int zero = 0;
    setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
  }
  // SO_REUSEADDR lets a restarted server bind while its old connections sit
  // in TIME_WAIT; it never lets two sockets listen on one address (that is
  // SO_REUSEPORT, which a second server would use to take half the clients).
  const int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const int bound = bind(fd_, chosen->ai_addr, chosen->ai_addrlen);
  const int error = errno;
  freeaddrinfo(found);
  if (bound != 0) {
    if (error == EADDRINUSE) {
      return error::ValueError(
          absl::StrCat("address ", address_, " is in use (another shoal-server?)"));
    }
    return SystemError(absl::StrCat("cannot listen on ", address_), error);
  }
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &length);
  const uint16_t bound_port = local.ss_family == AF_INET6
                                  ? reinterpret_cast<sockaddr_in6*>(&local)->sin6_port
                                  : reinterpret_cast<sockaddr_in*>(&local)->sin_port;
  port_ = ntohs(bound_port);
  return absl::OkStatus();
}

int Listener::Accept() {
  for (;;) {
    const int fd = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (unix_path_.empty()) SetTcpOptions(fd);
    return fd;
  }
}

void Listener::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  // Only the lock's holder removes the files: the socket first, then the
  // lock, so that the next owner never finds a socket it did not make.
  if (lock_fd_ >= 0) {
    if (!unix_path_.empty()) unlink(unix_path_.c_str());
    unlink(lock_path_.c_str());
    close(lock_fd_);
  }
  lock_fd_ = -1;
  lock_path_.clear();
  unix_path_.clear();
}

std::string SocketPeerName(int fd) {
  sockaddr_storage peer{};
  socklen_t length = sizeof(peer);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) return "";
  char text[INET6_ADDRSTRLEN] = {};
  switch (peer.ss_family) {
    case AF_INET: {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&peer);
      inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
      return absl::StrCat("ipv4:", text, ":", ntohs(in->sin_port));
    }
    case AF_INET6: {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&peer);
      inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
      return absl::StrCat("ipv6:[", text, "]:", ntohs(in6->sin6_port));
    }
    case AF_UNIX:
      return "unix:";
    default:
      return "";
  }
}

}  // namespace shoal::server
