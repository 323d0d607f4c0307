#include "integration/tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace shoal::testing {
namespace {

sockaddr_in AddressOf(const std::string& host, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "TcpProxy: bad IPv4 address %s\n", host.c_str());
    std::abort();
  }
  return addr;
}

// Writes all of data to a blocking socket; false when the peer is gone.
bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

uint16_t FreePort(const std::string& host) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = AddressOf(host, 0);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::fprintf(stderr, "FreePort: bind: %s\n", std::strerror(errno));
    std::abort();
  }
  socklen_t length = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  close(fd);
  return ntohs(addr.sin_port);
}

TcpProxy::TcpProxy(const std::string& listen_host, uint16_t listen_port, std::string target_host,
                   uint16_t target_port)
    : target_host_(std::move(target_host)), target_port_(target_port) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr = AddressOf(listen_host, listen_port);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 64) != 0) {
    std::fprintf(stderr, "TcpProxy: cannot listen on %s:%u: %s\n", listen_host.c_str(),
                 listen_port, std::strerror(errno));
    std::abort();
  }
  socklen_t length = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &length);
  port_ = ntohs(addr.sin_port);
  if (pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) std::abort();
  thread_ = std::thread([this] { Loop(); });
}

TcpProxy::~TcpProxy() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  const char byte = 0;
  (void)!write(wake_[1], &byte, 1);
  thread_.join();
  MutexLock lock(&mu_);
  while (!pairs_.empty()) ClosePairLocked(pairs_.size() - 1);
  close(listen_fd_);
  close(wake_[0]);
  close(wake_[1]);
}

void TcpProxy::Cut() {
  {
    MutexLock lock(&mu_);
    refusing_ = true;
    while (!pairs_.empty()) ClosePairLocked(pairs_.size() - 1);
  }
  const char byte = 0;
  (void)!write(wake_[1], &byte, 1);
}

void TcpProxy::Accept() {
  MutexLock lock(&mu_);
  refusing_ = false;
}

void TcpProxy::MuteReplies(bool mute) {
  MutexLock lock(&mu_);
  muted_ = mute;
}

void TcpProxy::Silence() {
  {
    MutexLock lock(&mu_);
    for (Pair& pair : pairs_) pair.silent = true;
  }
  // The loop may be in poll() on them: it polls again without them.
  const char byte = 0;
  (void)!write(wake_[1], &byte, 1);
}

void TcpProxy::Retarget(uint16_t target_port) {
  MutexLock lock(&mu_);
  target_port_ = target_port;
}

int TcpProxy::forwarded() const {
  MutexLock lock(&mu_);
  return forwarded_;
}

int TcpProxy::open() const {
  MutexLock lock(&mu_);
  return static_cast<int>(pairs_.size());
}

bool TcpProxy::WaitForwarded(int n, absl::Duration timeout) {
  MutexLock lock(&mu_);
  auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return forwarded_ >= n; };
  return mu_.AwaitWithTimeout(Condition(&reached), timeout);
}

void TcpProxy::ClosePairLocked(size_t index) {
  // A reset, as a network that fails gives, rather than an orderly end.
  const linger abort{1, 0};
  for (int fd : {pairs_[index].client, pairs_[index].server}) {
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
    close(fd);
  }
  pairs_.erase(pairs_.begin() + static_cast<std::ptrdiff_t>(index));
}

void TcpProxy::Loop() {
  std::vector<pollfd> polled;
  // The index in pairs_ of each pair polled, in order.
  std::vector<size_t> polled_pairs;
  std::vector<char> buffer(64 << 10);
  for (;;) {
    polled.clear();
    polled_pairs.clear();
    {
      MutexLock lock(&mu_);
      if (stop_) return;
      polled.push_back({wake_[0], POLLIN, 0});
      polled.push_back({listen_fd_, POLLIN, 0});
      for (size_t index = 0; index < pairs_.size(); ++index) {
        if (pairs_[index].silent) continue;
        polled.push_back({pairs_[index].client, POLLIN, 0});
        polled.push_back({pairs_[index].server, POLLIN, 0});
        polled_pairs.push_back(index);
      }
    }
    if (poll(polled.data(), polled.size(), 1000) < 0 && errno != EINTR) std::abort();
    if ((polled[0].revents & POLLIN) != 0) {
      char drain[64];
      while (read(wake_[0], drain, sizeof(drain)) > 0) {
      }
      continue;  // The pairs may have changed.
    }
    if ((polled[1].revents & POLLIN) != 0) {
      const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        uint16_t target = 0;
        bool refuse = false;
        {
          MutexLock lock(&mu_);
          target = target_port_;
          refuse = refusing_;
        }
        const int server = refuse ? -1 : socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr = AddressOf(target_host_, target);
        if (server < 0 ||
            connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
          if (server >= 0) close(server);
          close(client);
        } else {
          const int one = 1;
          setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          MutexLock lock(&mu_);
          pairs_.push_back({client, server});
          ++forwarded_;
        }
      }
    }
    MutexLock lock(&mu_);
    // The pairs polled are where they were in pairs_: only the loop adds (at
    // the end), and Cut, which removes, and Silence wake it first.
    for (size_t i = 2; i + 1 < polled.size(); i += 2) {
      const size_t index = polled_pairs[(i - 2) / 2];
      if (index >= pairs_.size() || pairs_[index].client != polled[i].fd ||
          pairs_[index].silent) {
        break;
      }
      bool gone = false;
      for (int side = 0; side < 2 && !gone; ++side) {
        const pollfd& from = polled[i + side];
        if ((from.revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        const ssize_t n = recv(from.fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) {
          gone = true;
          break;
        }
        if (side == 1 && muted_) continue;
        const int to = side == 0 ? pairs_[index].server : pairs_[index].client;
        if (!WriteAll(to, buffer.data(), static_cast<size_t>(n))) gone = true;
      }
      if (gone) {
        ClosePairLocked(index);
        break;  // Indexes moved: poll again.
      }
    }
  }
}

}  // namespace shoal::testing
