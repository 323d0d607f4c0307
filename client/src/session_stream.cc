#include "client/src/session_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "client/src/error_mapping.h"
#include "client/src/fork.h"
#include "client/src/handshake.h"
#include "client/src/tls.h"
#include "shared/frame_reader.h"
#include "shared/framing.h"
#include "shared/session_frames.h"
#include "shared/hmac.h"
#include "shoal/errors.h"

namespace shoal::detail {
namespace {

// How much is read from the socket at a time.
constexpr size_t kReadChunk = 64 << 10;

class FramedStream : public SessionStream {
 public:
  // Takes fd, made by OpenSessionSocket; with tls, the stream speaks TLS
  // over it.
  explicit FramedStream(int fd, std::unique_ptr<TlsConnection> tls = nullptr)
      : fd_(fd), tls_(std::move(tls)) {}
  ~FramedStream() override { CloseSessionSocket(fd_); }

  bool WriteBody(absl::string_view body) override {
    out_.clear();
    AppendFramed(body, &out_);
    if (tls_ != nullptr) {
      const bool written = tls_->Write(out_.data(), out_.size());
      if (out_.capacity() > (1 << 20)) std::string().swap(out_);
      return written;
    }
    size_t sent = 0;
    while (sent < out_.size()) {
      const ssize_t n = send(fd_, out_.data() + sent, out_.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    if (out_.capacity() > (1 << 20)) std::string().swap(out_);
    return true;
  }

  void WritesDone() override { shutdown(fd_, SHUT_WR); }

  bool Read(ServerFrameView* view) override {
    if (ended_) return false;
    for (;;) {
      if (std::optional<absl::string_view> message = reader_.Next()) {
        // A frame of replies alone is read in place; any other is parsed.
        if (ReadServerFrame(*message, view)) return true;
        if (!Parse(*message, &parsed_)) return false;
        ViewOf(parsed_, view);
        return true;
      }
      if (!Fill()) return false;
    }
  }

  // Read, which gives up at deadline, when there is one: the stream then
  // ends with DEADLINE_EXCEEDED.
  bool ReadBy(v1::ServerFrame* frame,
              std::optional<std::chrono::system_clock::time_point> deadline) {
    if (ended_) return false;
    for (;;) {
      if (std::optional<absl::string_view> message = reader_.Next()) return Parse(*message, frame);
      if (deadline.has_value() && !AwaitInput(*deadline)) return false;
      if (!Fill()) return false;
    }
  }

  absl::Status Finish() override { return status_; }

  void Cancel() override {
    cancelled_.store(true);
    shutdown(fd_, SHUT_RDWR);
  }

  void WatchPath(std::chrono::milliseconds bound) override {
    sockaddr_storage local{};
    socklen_t length = sizeof(local);
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &length) != 0 ||
        (local.ss_family != AF_INET && local.ss_family != AF_INET6)) {
      return;
    }
    // Probes start after half the bound of silence, one a second (the
    // kernel counts them in whole seconds); TCP_USER_TIMEOUT then ends the
    // connection once nothing was acknowledged for the bound, whether it
    // was data or a probe that went unanswered.
    const int one = 1;
    const int idle = std::max<int>(1, static_cast<int>(bound.count() / 2000));
    const int interval = 1;
    const int probes = std::max<int>(1, static_cast<int>(bound.count() / 1000));
    const unsigned int user_timeout = static_cast<unsigned int>(bound.count());
    setsockopt(fd_, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd_, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd_, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
    setsockopt(fd_, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
    setsockopt(fd_, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout));
  }

  std::optional<int64_t> LastReceivedNanos() const override {
    return received_ns_.load(std::memory_order_relaxed);
  }

 private:
  // Parses one frame; false, ending the stream, when it is malformed or is
  // the stream's last.
  bool Parse(absl::string_view message, v1::ServerFrame* frame) {
    frame->Clear();
    if (!frame->ParseFromArray(message.data(), static_cast<int>(message.size()))) {
      return End(absl::StatusCode::kInternal, "the server sent a malformed frame");
    }
    if (frame->has_end()) {
      return End(static_cast<absl::StatusCode>(frame->end().code()), frame->end().message());
    }
    return true;
  }

  // Waits until the socket has something to read, or ends the stream at
  // deadline.
  bool AwaitInput(std::chrono::system_clock::time_point deadline) {
    // Bytes OpenSSL has read already are not the socket's any more.
    if (tls_ != nullptr && tls_->pending()) return true;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::system_clock::now());
      if (left.count() <= 0) {
        return End(absl::StatusCode::kDeadlineExceeded, "the server did not answer in time");
      }
      pollfd waiting{fd_, POLLIN, 0};
      const int ready = poll(&waiting, 1, static_cast<int>(left.count()));
      if (ready > 0) return true;
      if (ready < 0 && errno != EINTR) {
        return End(absl::StatusCode::kUnavailable,
                   absl::StrCat("the session connection failed: ", std::strerror(errno)));
      }
    }
  }

  // Reads what the socket has into the reader, or fails.
  bool Fill() {
    const absl::Span<char> space = reader_.WriteSpace(kReadChunk);
    const ssize_t n = tls_ != nullptr ? tls_->Read(space.data(), space.size())
                                      : recv(fd_, space.data(), space.size(), 0);
    if (n > 0) {
      reader_.Commit(static_cast<size_t>(n));
      received_ns_.store(absl::GetCurrentTimeNanos(), std::memory_order_relaxed);
      return true;
    }
    if (n < 0 && errno == EINTR) return true;
    if (cancelled_.load()) return End(absl::StatusCode::kCancelled, "the stream was cancelled");
    if (n == 0) {
      return End(absl::StatusCode::kUnavailable, "the server closed the session connection");
    }
    if (tls_ != nullptr) {
      return End(absl::StatusCode::kUnavailable,
                 absl::StrCat("the session connection failed: ", tls_->error()));
    }
    return End(absl::StatusCode::kUnavailable,
               absl::StrCat("the session connection failed: ", std::strerror(errno)));
  }

  bool End(absl::StatusCode code, std::string message) {
    ended_ = true;
    status_ = absl::Status(code, std::move(message));
    return false;
  }

  const int fd_;
  const std::unique_ptr<TlsConnection> tls_;
  // The reader's: the bytes read and not yet parsed.
  FrameReader reader_;
  // A frame Read could not read in place, parsed.
  v1::ServerFrame parsed_;
  bool ended_ = false;
  absl::Status status_;
  // The writer's.
  std::string out_;
  std::atomic<bool> cancelled_{false};
  // When bytes last arrived (Unix nanoseconds); the connection's start at
  // first.
  std::atomic<int64_t> received_ns_{absl::GetCurrentTimeNanos()};
};

// Connects fd to addr by deadline.
absl::Status ConnectBy(int fd, const sockaddr* addr, socklen_t length,
                       std::chrono::system_clock::time_point deadline) {
  const int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  if (connect(fd, addr, length) != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) {
      return absl::UnavailableError(std::strerror(errno));
    }
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::system_clock::now());
      if (left.count() <= 0) return absl::DeadlineExceededError("timed out connecting");
      pollfd waiting{fd, POLLOUT, 0};
      const int ready = poll(&waiting, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) return absl::UnavailableError(std::strerror(errno));
      if (ready > 0) break;
    }
    int error = 0;
    socklen_t size = sizeof(error);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
    if (error != 0) return absl::UnavailableError(std::strerror(error));
  }
  fcntl(fd, F_SETFL, flags);
  return absl::OkStatus();
}

// The host part of a gRPC target such as "host:port", "dns:///host:port" or
// "[::1]:port".
std::string TargetHost(absl::string_view target) {
  for (absl::string_view scheme : {"dns:///", "dns:", "ipv4:", "ipv6:"}) {
    if (absl::StartsWith(target, scheme)) {
      target.remove_prefix(scheme.size());
      break;
    }
  }
  if (absl::StartsWith(target, "[")) {
    const size_t close = target.find(']');
    if (close != absl::string_view::npos) return std::string(target.substr(1, close - 1));
  }
  const size_t colon = target.rfind(':');
  return std::string(colon == absl::string_view::npos ? target : target.substr(0, colon));
}

absl::StatusOr<int> ConnectUnix(const std::string& path,
                                std::chrono::system_clock::time_point deadline) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return absl::InvalidArgumentError("path too long");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = OpenSessionSocket(AF_UNIX);
  if (fd < 0) return absl::UnavailableError(std::strerror(errno));
  absl::Status connected = ConnectBy(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr), deadline);
  if (!connected.ok()) {
    CloseSessionSocket(fd);
    return connected;
  }
  return fd;
}

absl::StatusOr<int> ConnectTcp(const std::string& host, uint32_t port,
                               std::chrono::system_clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) return absl::UnavailableError(gai_strerror(rc));
  absl::Status last = absl::UnavailableError("no address");
  for (addrinfo* at = found; at != nullptr; at = at->ai_next) {
    const int fd = OpenSessionSocket(at->ai_family);
    if (fd < 0) continue;
    last = ConnectBy(fd, at->ai_addr, at->ai_addrlen, deadline);
    if (last.ok()) {
      freeaddrinfo(found);
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      return fd;
    }
    CloseSessionSocket(fd);
  }
  freeaddrinfo(found);
  return last;
}

// A connection to the framed transport the server offered (see
// OpenFramedStream).
absl::StatusOr<std::unique_ptr<FramedStream>> ConnectFramed(
    const std::string& address, const v1::FramedEndpoint& endpoint,
    std::chrono::system_clock::time_point deadline, const std::optional<TlsOptions>& tls) {
  absl::StatusOr<int> fd = absl::UnavailableError("the server offers no framed endpoint");
  std::string host;
  if (absl::StartsWith(address, "unix:")) {
    if (!endpoint.unix_path().empty()) fd = ConnectUnix(endpoint.unix_path(), deadline);
  } else if (endpoint.port() != 0) {
    host = TargetHost(address);
    fd = ConnectTcp(host, endpoint.port(), deadline);
  }
  if (!fd.ok()) return fd.status();
  if (!tls.has_value()) return std::make_unique<FramedStream>(*fd);
  absl::StatusOr<std::unique_ptr<TlsConnection>> secured =
      TlsConnection::Connect(*fd, *tls, TlsServerName(*tls, host), deadline);
  if (!secured.ok()) {
    CloseSessionSocket(*fd);
    return secured.status();
  }
  return std::make_unique<FramedStream>(*fd, *std::move(secured));
}

// The exception for a framed login that ended with status: the kind the
// server named in its last frame ("AuthenticationError: ..."), or, for a
// connection that failed or timed out, ConnectionError.
[[noreturn]] void ThrowLoginFailure(const absl::Status& status, const std::string& where) {
  const absl::string_view message = status.message();
  const size_t colon = message.find(": ");
  if (colon != absl::string_view::npos && colon > 0 &&
      message.substr(0, colon).find(' ') == absl::string_view::npos) {
    ThrowError(message.substr(0, colon), absl::StrCat(where, message.substr(colon + 2)));
  }
  throw ConnectionError(absl::StrCat(where, message));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SessionStream>> OpenFramedStream(
    const std::string& address, const v1::FramedEndpoint& endpoint, const std::string& token,
    std::chrono::system_clock::time_point deadline, const std::optional<TlsOptions>& tls) {
  absl::StatusOr<std::unique_ptr<FramedStream>> stream =
      ConnectFramed(address, endpoint, deadline, tls);
  if (!stream.ok()) return stream.status();
  v1::ClientFrame hello;
  hello.set_token(token);
  if (!(*stream)->Write(hello)) {
    return absl::UnavailableError(absl::StrCat("cannot write: ", std::strerror(errno)));
  }
  return *std::move(stream);
}

FramedLogin LogInFramed(const std::string& address, const v1::FramedEndpoint& endpoint,
                        const std::string& key, const std::string& client_name,
                        std::chrono::system_clock::time_point deadline,
                        const SessionRequest& wanted,
                        const std::optional<TlsOptions>& tls) {
  absl::StatusOr<std::unique_ptr<FramedStream>> connected =
      ConnectFramed(address, endpoint, deadline, tls);
  if (!connected.ok()) {
    throw ConnectionError(absl::StrCat("cannot reach the framed transport of the shoal server at ",
                                       address, ": ", connected.status().message()));
  }
  FramedStream& stream = **connected;
  const std::string where =
      absl::StrCat("login on the framed transport of the shoal server at ", address, ": ");

  // Step one: the challenge, with the server's proof that it holds the key.
  // A write that fails is a connection the server ended: its last frame
  // says why.
  const std::string client_nonce = RandomBytes(kClientNonceBytes);
  v1::ClientFrame frame;
  frame.mutable_challenge()->set_client_nonce(client_nonce);
  v1::ServerFrame reply;
  stream.Write(frame);
  if (!stream.ReadBy(&reply, deadline)) ThrowLoginFailure(stream.Finish(), where);
  if (!reply.has_challenge()) throw Error("Error", where + "the server did not send a challenge");
  const bool server_proved = ServerProvesKey(key, client_nonce, reply.challenge());

  // Step two: our proof, even when the server's failed (handshake.h).
  frame.Clear();
  *frame.mutable_answer() = AnswerFor(key, client_nonce, reply.challenge(), client_name, wanted);
  reply.Clear();
  stream.Write(frame);
  const bool answered = stream.ReadBy(&reply, deadline);
  const absl::Status end = answered ? absl::OkStatus() : stream.Finish();
  if (!server_proved && !absl::IsUnavailable(end) && !absl::IsDeadlineExceeded(end)) {
    // The session such a server opened goes with the connection.
    throw AuthenticationError(
        absl::StrCat(where, absl::IsUnauthenticated(end) ? kRefusedOurKey : kServerNotProved));
  }
  if (!answered) ThrowLoginFailure(end, where);
  if (!reply.has_answer()) throw Error("Error", where + "the server did not answer the login");
  FramedLogin login;
  login.answer = std::move(*reply.mutable_answer());
  login.stream = *std::move(connected);
  return login;
}

}  // namespace shoal::detail
