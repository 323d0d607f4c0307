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

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
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

// How long a refused gRPC connection gets to send its first call.
constexpr absl::Duration kRefusalWait = absl::Seconds(1);

// HTTP/2 (RFC 9113), as much as a refusal needs.
constexpr char kClientPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr size_t kClientPrefaceBytes = sizeof(kClientPreface) - 1;
constexpr size_t kFrameHeaderBytes = 9;
constexpr uint8_t kHeaders = 0x1, kSettings = 0x4, kGoaway = 0x7;
constexpr uint8_t kEndStream = 0x1, kAck = 0x1, kEndHeaders = 0x4;
constexpr uint32_t kEnhanceYourCalm = 0xb;
// Past this much unread input, a refused connection is ended unanswered.
constexpr size_t kMaxRefusalInput = 64 << 10;

void AppendUint32(uint32_t value, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

void AppendFrameHeader(uint32_t length, uint8_t type, uint8_t flags, uint32_t stream,
                       std::string* out) {
  out->push_back(static_cast<char>((length >> 16) & 0xff));
  out->push_back(static_cast<char>((length >> 8) & 0xff));
  out->push_back(static_cast<char>(length & 0xff));
  out->push_back(static_cast<char>(type));
  out->push_back(static_cast<char>(flags));
  AppendUint32(stream & 0x7fffffff, out);
}

// An HPACK string or integer length with a 7-bit prefix (RFC 7541 5.1),
// without Huffman coding.
void AppendHpackLength(size_t length, std::string* out) {
  if (length < 127) {
    out->push_back(static_cast<char>(length));
    return;
  }
  out->push_back(127);
  length -= 127;
  while (length >= 128) {
    out->push_back(static_cast<char>((length & 0x7f) | 0x80));
    length >>= 7;
  }
  out->push_back(static_cast<char>(length));
}

// A literal header field, not indexed, with a new name (RFC 7541 6.2.2).
void AppendHeader(absl::string_view name, absl::string_view value, std::string* out) {
  out->push_back(0);
  AppendHpackLength(name.size(), out);
  out->append(name.data(), name.size());
  AppendHpackLength(value.size(), out);
  out->append(value.data(), value.size());
}

// grpc-message is percent-encoded: every byte outside printable ASCII, and
// '%' itself.
std::string PercentEncode(absl::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte <= 0x7e && byte != '%') {
      out.push_back(c);
    } else {
      out += absl::StrFormat("%%%02X", byte);
    }
  }
  return out;
}

}  // namespace

Acceptor::Acceptor(int64_t max_connections) : max_connections_(max_connections) {}

Acceptor::~Acceptor() { Stop(); }

std::string Acceptor::RefusalMessage(int64_t max_connections) {
  return absl::StrCat("too many connections (--max-connections=", max_connections, ")");
}

std::string Acceptor::Http2Refusal(uint32_t stream, const std::string& message) {
  // HTTP/2 frames carry at most 16384 bytes unless the peer allows more.
  const std::string text = message.substr(0, 1024);
  std::string out;
  AppendFrameHeader(0, kSettings, kAck, 0, &out);
  if (stream != 0) {
    // A response of trailers only: the call's status, and the end of its
    // stream.
    std::string block;
    AppendHeader(":status", "200", &block);
    AppendHeader("content-type", "application/grpc", &block);
    AppendHeader("grpc-status", "8", &block);  // RESOURCE_EXHAUSTED
    AppendHeader("grpc-message", PercentEncode(text), &block);
    AppendFrameHeader(static_cast<uint32_t>(block.size()), kHeaders, kEndStream | kEndHeaders,
                      stream, &out);
    out += block;
  }
  AppendFrameHeader(static_cast<uint32_t>(8 + text.size()), kGoaway, 0, 0, &out);
  AppendUint32(stream, &out);  // the last stream processed
  AppendUint32(kEnhanceYourCalm, &out);
  out += text;
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
  refusal_timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (refusal_timer_fd_ < 0) {
    return error::ValueError(absl::StrCat("timerfd: ", std::strerror(errno)));
  }
  loop_.Add(refusal_timer_fd_, &refusal_timer_tag_, EPOLLIN);
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
  for (Refusing& refusing : refusing_) {
    if (refusing.fd >= 0) close(refusing.fd);
    refusing.fd = -1;
  }
  if (refusal_timer_fd_ >= 0) close(refusal_timer_fd_);
  refusal_timer_fd_ = -1;
}

void Acceptor::Serve(void* tag, uint32_t /*events*/) {
  if (tag == &refusal_timer_tag_) {
    uint64_t expirations = 0;
    (void)!read(refusal_timer_fd_, &expirations, sizeof(expirations));
    ExpireRefusals();
    return;
  }
  for (Refusing& refusing : refusing_) {
    if (tag == &refusing) {
      if (refusing.fd >= 0) ReadRefusing(refusing);
      return;
    }
  }
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
  if (watched.port.grpc) {
    // The server's preface at once; the answer once the first call shows.
    std::string settings;
    AppendFrameHeader(0, kSettings, 0, 0, &settings);
    (void)!send(fd, settings.data(), settings.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    Refusing* slot = nullptr;
    for (Refusing& refusing : refusing_) {
      if (refusing.fd < 0) {
        slot = &refusing;
        break;
      }
    }
    Refusing overflow;
    if (slot == nullptr) {
      // More refusals under way than slots: this one goes unanswered.
      overflow.fd = fd;
      EndRefusing(overflow, 0);
    } else {
      slot->fd = fd;
      slot->in.clear();
      slot->deadline = absl::Now() + kRefusalWait;
      loop_.Add(fd, slot, EPOLLIN);
      itimerspec pending{};
      timerfd_gettime(refusal_timer_fd_, &pending);
      if (pending.it_value.tv_sec == 0 && pending.it_value.tv_nsec == 0) {
        itimerspec when{};
        when.it_value = absl::ToTimespec(kRefusalWait);
        timerfd_settime(refusal_timer_fd_, 0, &when, nullptr);
      }
      ReadRefusing(*slot);
    }
  } else {
    const std::string& refusal = watched.port.refusal;
    (void)!send(fd, refusal.data(), refusal.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    // The refusal, then the end of the stream; what the client sent already
    // is read away, so that closing does not reset the connection before the
    // client has read the refusal.
    shutdown(fd, SHUT_WR);
    char discard[4096];
    while (recv(fd, discard, sizeof(discard), MSG_DONTWAIT) > 0) {
    }
    close(fd);
  }
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

namespace shoal::server {

void Acceptor::ReadRefusing(Refusing& refusing) {
  char buffer[4096];
  for (;;) {
    const ssize_t n = recv(refusing.fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n > 0) {
      refusing.in.append(buffer, static_cast<size_t>(n));
      if (refusing.in.size() > kMaxRefusalInput) return EndRefusing(refusing, 0);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return EndRefusing(refusing, 0);  // the client is gone, or failed
  }
  absl::string_view in = refusing.in;
  if (in.size() < kClientPrefaceBytes) return;
  if (!absl::StartsWith(in, absl::string_view(kClientPreface, kClientPrefaceBytes))) {
    return EndRefusing(refusing, 0);  // not HTTP/2
  }
  in.remove_prefix(kClientPrefaceBytes);
  while (in.size() >= kFrameHeaderBytes) {
    const auto byte = [&in](size_t i) { return static_cast<uint8_t>(in[i]); };
    const size_t length = (size_t{byte(0)} << 16) | (size_t{byte(1)} << 8) | byte(2);
    const uint8_t type = byte(3);
    const uint32_t stream = ((uint32_t{byte(5)} << 24) | (uint32_t{byte(6)} << 16) |
                             (uint32_t{byte(7)} << 8) | byte(8)) &
                            0x7fffffff;
    if (type == kHeaders && stream != 0) return EndRefusing(refusing, stream);
    if (in.size() < kFrameHeaderBytes + length) return;
    in.remove_prefix(kFrameHeaderBytes + length);
  }
}

void Acceptor::EndRefusing(Refusing& refusing, uint32_t stream) {
  const std::string out = Http2Refusal(stream, RefusalMessage(max_connections_));
  (void)!send(refusing.fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  shutdown(refusing.fd, SHUT_WR);
  char discard[4096];
  while (recv(refusing.fd, discard, sizeof(discard), MSG_DONTWAIT) > 0) {
  }
  close(refusing.fd);  // which also takes it out of the epoll set
  refusing.fd = -1;
  std::string().swap(refusing.in);
}

void Acceptor::ExpireRefusals() {
  const absl::Time now = absl::Now();
  absl::Time next = absl::InfiniteFuture();
  for (Refusing& refusing : refusing_) {
    if (refusing.fd < 0) continue;
    if (refusing.deadline <= now) {
      EndRefusing(refusing, 0);
    } else {
      next = std::min(next, refusing.deadline);
    }
  }
  if (next == absl::InfiniteFuture()) return;
  itimerspec when{};
  when.it_value = absl::ToTimespec(std::max(next - now, absl::Milliseconds(1)));
  timerfd_settime(refusal_timer_fd_, 0, &when, nullptr);
}

}  // namespace shoal::server
