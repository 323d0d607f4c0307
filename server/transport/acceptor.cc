#include "server/transport/acceptor.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

// Connections taken from one listener before the other gets its turn.
constexpr int kAcceptBatch = 64;
// Refusals are logged at most this often.
constexpr absl::Duration kRefusalLogInterval = absl::Seconds(1);
// A sweep may take at most this share of the acceptor's time: the next waits
// this many times as long as the last took.
constexpr int kSweepSpacing = 10;

// Errors of accept4 that say a resource is short, not that the connection or
// the listener is at fault: trying again at once would fail the same way.
bool OutOfResources(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

// Errors of accept4 about the one connection taken (Linux passes the new
// socket's pending network errors on): the next may be fine.
bool ConnectionError(int error) {
  switch (error) {
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return true;
    default:
      return false;
  }
}

void AppendFrameHeader(uint32_t length, uint8_t type, std::string* out) {
  out->push_back(static_cast<char>((length >> 16) & 0xff));
  out->push_back(static_cast<char>((length >> 8) & 0xff));
  out->push_back(static_cast<char>(length & 0xff));
  out->push_back(static_cast<char>(type));
  out->push_back(0);                    // flags
  out->append(4, '\0');                 // stream 0: the connection
}

void AppendUint32(uint32_t value, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

}  // namespace

Acceptor::Acceptor(int64_t max_connections) : max_connections_(max_connections) {}

Acceptor::~Acceptor() { Stop(); }

std::string Acceptor::RefusalMessage(int64_t max_connections) {
  return absl::StrCat("too many connections (--max-connections=", max_connections, ")");
}

std::string Acceptor::Http2Refusal(const std::string& message) {
  constexpr uint8_t kSettings = 0x4, kGoaway = 0x7;
  constexpr uint32_t kEnhanceYourCalm = 0xb;
  // HTTP/2 frames carry at most 16384 bytes unless the peer allows more.
  const std::string debug = message.substr(0, 16384 - 8);
  std::string out;
  AppendFrameHeader(0, kSettings, &out);
  AppendFrameHeader(static_cast<uint32_t>(8 + debug.size()), kGoaway, &out);
  AppendUint32(0, &out);  // the last stream processed: none
  AppendUint32(kEnhanceYourCalm, &out);
  out += debug;
  return out;
}

void Acceptor::Add(Port port) {
  auto watched = std::make_unique<Watched>();
  watched->port = std::move(port);
  watched_.push_back(std::move(watched));
}

absl::Status Acceptor::Start() {
  absl::Status opened = loop_.Open();
  if (!opened.ok()) return opened;
  for (auto& watched : watched_) {
    // Made now: once descriptors run short there may be none left for it.
    watched->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (watched->timer_fd < 0) {
      return error::ValueError(absl::StrCat("timerfd: ", std::strerror(errno)));
    }
    loop_.Add(watched->port.listener->fd(), &watched->listener_tag, EPOLLIN);
    loop_.Add(watched->timer_fd, &watched->timer_tag, EPOLLIN);
  }
  loop_.Start([this](void* tag, uint32_t events) { Serve(tag, events); });
  return absl::OkStatus();
}

void Acceptor::Stop() {
  loop_.Stop();
  for (auto& watched : watched_) {
    if (watched->port.listener != nullptr) watched->port.listener->Close();
    if (watched->timer_fd >= 0) close(watched->timer_fd);
    watched->timer_fd = -1;
  }
}

void Acceptor::Serve(void* tag, uint32_t /*events*/) {
  for (auto& watched : watched_) {
    if (tag == &watched->listener_tag) {
      AcceptFrom(*watched);
      return;
    }
    if (tag == &watched->timer_tag) {
      uint64_t expirations = 0;
      (void)!read(watched->timer_fd, &expirations, sizeof(expirations));
      // Back in the set: level-triggered, it reports at once what waits.
      watched->paused = false;
      loop_.Add(watched->port.listener->fd(), &watched->listener_tag, EPOLLIN);
      return;
    }
  }
}

void Acceptor::AcceptFrom(Watched& watched) {
  for (int taken = 0; taken < kAcceptBatch && !watched.paused; ++taken) {
    const int fd = watched.port.listener->Accept();
    if (fd < 0) {
      const int error = errno;
      if (error == EAGAIN || error == EWOULDBLOCK) return;
      if (ConnectionError(error)) continue;
      Pause(watched, error);
      return;
    }
    if (watched.paused_since != absl::InfinitePast()) {
      std::fprintf(stderr, "shoal-server: accepting on the %s port again (after %s)\n",
                   watched.port.name.c_str(),
                   absl::FormatDuration(absl::Now() - watched.paused_since).c_str());
      watched.paused_since = absl::InfinitePast();
      watched.pause = kFirstPause;
    }
    if (!Admit(fd)) {
      Refuse(watched, fd);
      continue;
    }
    watched.port.hand_off(fd);
  }
}

void Acceptor::Pause(Watched& watched, int error) {
  if (watched.paused_since == absl::InfinitePast()) {
    watched.paused_since = absl::Now();
    std::fprintf(stderr,
                 "shoal-server: cannot accept on the %s port (%s%s): not accepting there "
                 "for now, trying again after %s, then up to every %s\n",
                 watched.port.name.c_str(), std::strerror(error),
                 OutOfResources(error) ? ", out of descriptors or memory" : "",
                 absl::FormatDuration(kFirstPause).c_str(),
                 absl::FormatDuration(kLongestPause).c_str());
  }
  epoll_ctl(loop_.epoll_fd(), EPOLL_CTL_DEL, watched.port.listener->fd(), nullptr);
  watched.paused = true;
  itimerspec when{};
  when.it_value = absl::ToTimespec(watched.pause);
  timerfd_settime(watched.timer_fd, 0, &when, nullptr);
  watched.pause = std::min(watched.pause * 2, kLongestPause);
}

bool Acceptor::Admit(int fd) {
  if (max_connections_ <= 0) return true;
  // The number is free again, so whatever it named before is closed.
  handed_.erase(fd);
  if (static_cast<int64_t>(handed_.size()) >= max_connections_) Sweep();
  if (static_cast<int64_t>(handed_.size()) >= max_connections_) return false;
  struct stat st;
  if (fstat(fd, &st) == 0) handed_[fd] = FileId{st.st_dev, st.st_ino};
  return true;
}

void Acceptor::Sweep() {
  const absl::Time start = absl::Now();
  // A flood of refused connections would otherwise sweep for each.
  if (start - last_sweep_end_ < last_sweep_took_ * kSweepSpacing) return;
  for (auto it = handed_.begin(); it != handed_.end();) {
    struct stat st;
    if (fstat(it->first, &st) != 0 || st.st_dev != it->second.dev ||
        st.st_ino != it->second.ino) {
      handed_.erase(it++);
    } else {
      ++it;
    }
  }
  last_sweep_end_ = absl::Now();
  last_sweep_took_ = last_sweep_end_ - start;
}

void Acceptor::Refuse(Watched& watched, int fd) {
  const std::string& refusal = watched.port.refusal;
  (void)!send(fd, refusal.data(), refusal.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  // The refusal, then the end of the stream; what the client sent already is
  // read away, so that closing does not reset the connection before the
  // client has read the refusal.
  shutdown(fd, SHUT_WR);
  char discard[4096];
  while (recv(fd, discard, sizeof(discard), MSG_DONTWAIT) > 0) {
  }
  close(fd);
  ++refusals_unlogged_;
  const absl::Time now = absl::Now();
  if (now - last_refusal_log_ < kRefusalLogInterval) return;
  std::fprintf(stderr, "shoal-server: refused %lld connection%s on the %s port: %s\n",
               static_cast<long long>(refusals_unlogged_), refusals_unlogged_ == 1 ? "" : "s",
               watched.port.name.c_str(), RefusalMessage(max_connections_).c_str());
  refusals_unlogged_ = 0;
  last_refusal_log_ = now;
}

}  // namespace shoal::server
