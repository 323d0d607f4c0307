#include "server/transport/framed_listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

absl::Status SystemError(absl::string_view what) {
  return error::ValueError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// A client whose host vanishes sends no FIN: probes find it gone after about
// a minute of silence, and unacknowledged replies after 30 s.
void SetTcpOptions(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  const int idle = 30, interval = 10, count = 3;
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
  const unsigned int user_timeout_ms = 30000;
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof(user_timeout_ms));
}

}  // namespace

absl::StatusOr<v1::FramedEndpoint> FramedListener::Bind(const std::string& address) {
  v1::FramedEndpoint endpoint;
  if (absl::StartsWith(address, "unix:")) {
    unix_path_ = address.substr(5);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (unix_path_.empty() || unix_path_.size() >= sizeof(addr.sun_path)) {
      return error::ValueError(absl::StrCat("unix socket path too long or empty: ", unix_path_));
    }
    std::memcpy(addr.sun_path, unix_path_.c_str(), unix_path_.size() + 1);
    // A socket left by a server that is gone would refuse the bind.
    struct stat st;
    if (lstat(unix_path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(unix_path_.c_str());
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return SystemError("socket");
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      unix_path_.clear();
      return SystemError(absl::StrCat("cannot listen on ", address));
    }
    endpoint.set_unix_path(unix_path_);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos) {
      return error::ValueError(absl::StrCat("expected host:port or unix:PATH, got ", address));
    }
    std::string host = address.substr(0, colon);
    const std::string port = address.substr(colon + 1);
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
      return error::ValueError(absl::StrCat("cannot resolve ", address, ": ", gai_strerror(rc)));
    }
    fd_ = socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      freeaddrinfo(found);
      return SystemError("socket");
    }
    const int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    const int bound = bind(fd_, found->ai_addr, found->ai_addrlen);
    freeaddrinfo(found);
    if (bound != 0) return SystemError(absl::StrCat("cannot listen on ", address));
    sockaddr_storage local{};
    socklen_t length = sizeof(local);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &length);
    const uint16_t bound_port =
        local.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&local)->sin6_port
                                    : reinterpret_cast<sockaddr_in*>(&local)->sin_port;
    endpoint.set_port(ntohs(bound_port));
  }
  if (listen(fd_, SOMAXCONN) != 0) return SystemError("listen");
  return endpoint;
}

int FramedListener::Accept() {
  for (;;) {
    const int fd = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return -1;  // EAGAIN, or out of descriptors: the next connection retries.
    }
    if (unix_path_.empty()) SetTcpOptions(fd);
    return fd;
  }
}

void FramedListener::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  if (!unix_path_.empty()) unlink(unix_path_.c_str());
  unix_path_.clear();
}

}  // namespace shoal::server
