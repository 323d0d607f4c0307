#include "server/transport/framed_connection.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "server/transport/listener.h"
#include "server/transport/pending_logins.h"
#include "server/transport/stream_errors.h"
#include "shared/error_kind.h"
#include "shared/framing.h"
#include "shared/session_frames.h"

namespace shoal::server {
namespace {

// How much a connection reads at a time.
constexpr size_t kReadChunk = 64 << 10;

// The room a connection with nothing buffered reads into: one per event loop
// thread, so that an idle connection keeps no read buffer of its own, only
// the bytes of a frame that has not all arrived.
absl::Span<char> SharedReadSpace() {
  thread_local std::unique_ptr<char[]> room(new char[kReadChunk]);
  return absl::Span<char>(room.get(), kReadChunk);
}
// Unsent replies past which a connection is not read until they drain.
constexpr size_t kMaxUnsent = 8 << 20;
// An output buffer past this size is given back once empty.
constexpr size_t kKeepBuffer = 1 << 20;

// The socket's address family (AF_INET, AF_UNIX...), or -1.
int SocketDomain(int fd) {
  int domain = -1;
  socklen_t size = sizeof(domain);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &size) != 0) return -1;
  return domain;
}

}  // namespace

FramedConnection::FramedConnection(Core& core, const Dispatcher& dispatcher,
                                   const Handshake& handshake, int fd, int epoll_fd,
                                   SendBatch& batch, std::shared_ptr<SSL_CTX> tls)
    : handshake_(handshake),
      fd_(fd),
      epoll_fd_(epoll_fd),
      batch_(batch),
      max_message_bytes_(static_cast<size_t>(core.options().max_message_bytes)),
      tls_(tls == nullptr ? nullptr : std::make_unique<TlsSocket>(std::move(tls), fd)),
      batched_(tls_ == nullptr && SocketDomain(fd) != AF_UNIX),
      // The end of a socket's input means its client closed the session or
      // is gone: nobody waits for what is parked.
      session_(core, dispatcher, *this, SessionCore::InputEnd::kCancelParked),
      reader_(std::min(kMaxLoginFrame, max_message_bytes_)),
      interest_(EPOLLIN) {}

FramedConnection::~FramedConnection() { close(fd_); }

bool FramedConnection::OnEvents(uint32_t events) {
  bool read = (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0;
  if (tls_ != nullptr && !tls_->established()) {
    // Once done, what came with the handshake's last message is read too.
    read = HandshakeStep();
  }
  std::optional<StreamState> read_state;
  if (read) read_state = Read();
  // Read before out_mu_, which is taken after the session's mutex.
  const StreamState state = read_state.has_value() ? *read_state : session_.state();
  {
    MutexLock lock(&out_mu_);
    if ((events & EPOLLOUT) != 0) WriteOutLocked();
    // The socket is gone both ways: nothing more can be read or written.
    if ((events & (EPOLLHUP | EPOLLERR)) != 0) closed_ = true;
    if (!closed_) {
      const bool done = state == StreamState::kBroken || state == StreamState::kClosed ||
                        (state == StreamState::kFinished && out_begin_ == out_.size());
      if (!done) {
        // Never back on: the state read above may be older than a finish
        // that a completion made meanwhile, which turned reading off for
        // good.
        reading_ = reading_ && !read_no_more_ && state != StreamState::kFinished;
        UpdateInterestLocked();
      }
      return done;
    }
  }
  session_.Break();
  return true;
}

void FramedConnection::Remove() {
  {
    MutexLock lock(&out_mu_);
    closed_ = true;
    // On the loop thread, or once the loop has stopped: the batch is the
    // loop's own.
    if (held_) batch_.Drop(this);
    held_ = false;
  }
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd_, nullptr);
  shutdown(fd_, SHUT_RDWR);
  session_.Detach();
  if (logins_ != nullptr) logins_->Remove(this);
}

bool FramedConnection::RefuseLogin(const absl::Status& status) {
  Login waiting = Login::kWaiting;
  if (!login_.compare_exchange_strong(waiting, Login::kRefused)) return false;
  // Ends the stream, writes the StreamEnd and shuts the socket, which wakes
  // the loop to remove the connection.
  session_.Fail(status);
  return true;
}

void FramedConnection::End() { session_.End(); }

void FramedConnection::Break() {
  session_.Break();
  shutdown(fd_, SHUT_RDWR);
}

bool FramedConnection::HandshakeStep() {
  if (!first_byte_seen_) {
    unsigned char first = 0;
    const ssize_t n = recv(fd_, &first, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return false;
    if (n <= 0) {
      MutexLock lock(&out_mu_);
      closed_ = true;
      return false;
    }
    first_byte_seen_ = true;
    if (first != TlsSocket::kHandshakeRecord) {
      RefuseProtocol(MakeError(ErrorKind::kConnectionError,
                               "the server requires TLS: connect with TLS options (a CA file "
                               "that signed the server's certificate)"));
      return false;
    }
  }
  const TlsSocket::Result step = tls_->Handshake();
  MutexLock lock(&out_mu_);
  handshake_wants_write_ = step.io == TlsSocket::Io::kWantWrite;
  if (step.io == TlsSocket::Io::kDone) return true;
  if (step.io == TlsSocket::Io::kFailed || step.io == TlsSocket::Io::kEnd) {
    closed_ = true;
    return false;
  }
  UpdateInterestLocked();
  return false;
}

void FramedConnection::RefuseProtocol(const absl::Status& status) {
  // What the client sent is read and dropped first: a socket closed with
  // unread input is reset, and the client might lose the answer.
  char drop[4096];
  while (recv(fd_, drop, sizeof(drop), MSG_DONTWAIT) > 0) {
  }
  v1::ServerFrame last;
  FillStreamEnd(status, last.mutable_end());
  std::string bytes;
  AppendFrame(last, &bytes);
  (void)!send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  read_no_more_ = true;
  MutexLock lock(&out_mu_);
  closed_ = true;
  shutdown(fd_, SHUT_WR);
}

ssize_t FramedConnection::ReadSome(absl::Span<char> space) {
  if (tls_ == nullptr) return read(fd_, space.data(), space.size());
  const TlsSocket::Result result = tls_->Read(space.data(), space.size());
  switch (result.io) {
    case TlsSocket::Io::kDone:
      return static_cast<ssize_t>(result.bytes);
    case TlsSocket::Io::kWantRead:
    case TlsSocket::Io::kWantWrite:
      errno = EAGAIN;
      return -1;
    case TlsSocket::Io::kEnd:
      return 0;
    case TlsSocket::Io::kFailed:
      break;
  }
  errno = EPROTO;
  return -1;
}

std::optional<StreamState> FramedConnection::Read() {
  // With TLS, bytes the socket had may wait inside OpenSSL, where epoll does
  // not see them: read until it asks for more from the socket.
  std::optional<StreamState> state;
  do {
    state = ReadOnce();
  } while (tls_ != nullptr && !read_no_more_ && last_read_ > 0);
  return state;
}

std::optional<StreamState> FramedConnection::ReadOnce() {
  last_read_ = 0;
  if (read_no_more_) return std::nullopt;
  // Bytes of a frame still arriving: read on after them. Else read into the
  // thread's room, and keep only what the frames read leave.
  const bool into_reader = reader_.buffered() > 0;
  absl::Span<char> space = into_reader ? reader_.WriteSpace(kReadChunk) : SharedReadSpace();
  const ssize_t n = ReadSome(space);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return std::nullopt;
    if (n < 0) {
      MutexLock lock(&out_mu_);
      closed_ = true;
      return std::nullopt;
    }
    read_no_more_ = true;
    session_.OnInputEnd();
    return std::nullopt;
  }
  last_read_ = n;
  if (!first_byte_seen_) {
    first_byte_seen_ = true;
    if (tls_ == nullptr && static_cast<unsigned char>(space[0]) == TlsSocket::kHandshakeRecord) {
      RefuseProtocol(MakeError(ErrorKind::kConnectionError,
                               "the server does not use TLS: connect without TLS options"));
      return std::nullopt;
    }
  }
  if (into_reader) {
    reader_.Commit(static_cast<size_t>(n));
  } else {
    reader_.Append(space.data(), static_cast<size_t>(n));
  }
  // Any bytes are a sign of life, so that a frame that takes long to arrive
  // does not pass for silence.
  if (stage_ == Stage::kIn) session_.Heard();
  session_.HoldReplies();
  while (std::optional<absl::string_view> message = reader_.Next()) {
    if (!HandleFrame(*message)) break;
  }
  if (!reader_.status().ok()) {
    read_no_more_ = true;
    session_.Fail(stage_ == Stage::kIn
                      ? reader_.status()
                      : error::LimitError(absl::StrCat(
                            "before it has logged in, a connection's first frames (its session "
                            "token, or the handshake's challenge and answer) may hold at most ",
                            kMaxLoginFrame, " bytes each: ", reader_.status().message())));
  }
  return session_.ReleaseReplies();
}

bool FramedConnection::HandleFrame(absl::string_view message) {
  // Once logged in, a frame's calls are read in place; what the quick
  // reader leaves (session_frames.h), and the login's frames, are parsed.
  if (stage_ == Stage::kIn && ReadClientFrame(message, &view_)) {
    session_.OnFrame(view_);
    view_.Clear();
    return true;
  }
  if (!frame_.ParseFromArray(message.data(), static_cast<int>(message.size()))) {
    read_no_more_ = true;
    session_.Fail(error::ValueError("a frame is not a ClientFrame message"));
    return false;
  }
  if (stage_ != Stage::kIn) {
    if (!LogInStep()) {
      read_no_more_ = true;
      return false;
    }
    // A challenge is answered alone; the frame that logs in may carry calls.
    if (stage_ != Stage::kIn) {
      frame_.Clear();
      return true;
    }
  }
  ViewOf(frame_, &view_);
  session_.OnFrame(view_);
  view_.Clear();
  frame_.Clear();
  return true;
}

bool FramedConnection::LogInStep() {
  if (stage_ == Stage::kChallenged) return Answer();
  if (frame_.has_challenge()) return Challenge();
  if (frame_.has_answer()) {
    RefuseLogin(error::ValueError("an answer comes in the frame after its challenge"));
    return false;
  }
  return TakeLogin() && Attach(frame_.token());
}

bool FramedConnection::Challenge() {
  if (!frame_.token().empty() || frame_.has_answer() || frame_.calls_size() > 0 ||
      frame_.cancels_size() > 0 || frame_.close() || frame_.heartbeat()) {
    RefuseLogin(error::ValueError("a frame that asks for a challenge carries nothing else"));
    return false;
  }
  absl::StatusOr<v1::ChallengeReply> challenge = handshake_.Challenge(frame_.challenge());
  if (!challenge.ok()) {
    RefuseLogin(challenge.status());
    return false;
  }
  v1::ServerFrame reply;
  *reply.mutable_challenge() = *std::move(challenge);
  if (!WriteLoginFrame(reply)) return false;
  // The answer is still a frame before login: the same limits hold for it.
  stage_ = Stage::kChallenged;
  return true;
}

bool FramedConnection::Answer() {
  if (!frame_.has_answer() || frame_.has_challenge() || !frame_.token().empty()) {
    RefuseLogin(MakeError(ErrorKind::kAuthenticationError,
                          "the frame after a challenge must carry its answer, and no token"));
    return false;
  }
  if (!TakeLogin()) return false;
  absl::StatusOr<v1::AnswerReply> answer = handshake_.Answer(frame_.answer(), SocketPeerName(fd_));
  if (!answer.ok()) {
    session_.Fail(answer.status());
    return false;
  }
  if (!Attach(answer->token())) return false;
  v1::ServerFrame reply;
  *reply.mutable_answer() = *std::move(answer);
  // Written before the replies to the calls the frame carries: those are
  // held until the frames read are dispatched (Read).
  return WriteLoginFrame(reply);
}

bool FramedConnection::TakeLogin() {
  Login waiting = Login::kWaiting;
  // Refused meanwhile (its deadline, or too many waiting): it has ended.
  if (!login_.compare_exchange_strong(waiting, Login::kLoggedIn)) return false;
  if (logins_ != nullptr) logins_->Remove(this);
  return true;
}

bool FramedConnection::Attach(absl::string_view token) {
  if (!session_.Attach(token)) return false;
  stage_ = Stage::kIn;
  reader_.set_max_frame(max_message_bytes_);
  return true;
}

bool FramedConnection::WriteLoginFrame(const v1::ServerFrame& frame) {
  MutexLock lock(&out_mu_);
  // Not reading any more means the stream has finished (FinishLocked): its
  // last frame is written already.
  if (closed_ || !reading_) return false;
  AppendFrame(frame, &out_);
  WriteOutLocked();
  return true;
}

bool FramedConnection::WriteLocked(std::string& replies) {
  MutexLock lock(&out_mu_);
  if (closed_) return true;
  AppendFramed(replies, &out_);
  // Held already: they go with the bytes before them, at the turn's end.
  if (held_) return true;
  // Replies made by the loop thread wait for the end of its turn.
  if (batched_ && batch_.Holds()) {
    held_ = true;
    batch_.Add(this);
    return true;
  }
  WriteOutLocked();
  return true;
}

absl::string_view FramedConnection::HeldLocked(int* fd) {
  *fd = fd_;
  if (closed_ || !held_) return {};
  return absl::string_view(out_).substr(out_begin_);
}

void FramedConnection::SentLocked(size_t bytes) {
  out_begin_ = std::min(out_.size(), out_begin_ + bytes);
  held_ = false;
  WriteOutLocked();
}

void FramedConnection::FinishLocked(const absl::Status& status) {
  MutexLock lock(&out_mu_);
  reading_ = false;
  if (closed_) return;
  v1::ServerFrame last;
  FillStreamEnd(status, last.mutable_end());
  AppendFrame(last, &out_);
  last_frame_written_ = true;
  // Shuts the socket once the last frame is out.
  WriteOutLocked();
}

void FramedConnection::WriteOutLocked() {
  while (!closed_ && out_begin_ < out_.size()) {
    const ssize_t n = WriteSome(out_.data() + out_begin_, out_.size() - out_begin_);
    if (n > 0) {
      out_begin_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    // The peer is gone. The loop hears of it (the shutdown wakes it), and
    // breaks the stream.
    closed_ = true;
    shutdown(fd_, SHUT_RDWR);
  }
  // The last frame is out (whether now, or at the end of a turn that held
  // it, or once the socket drained): the socket shuts down, which also wakes
  // the loop to remove the connection.
  if (!closed_ && last_frame_written_ && out_begin_ == out_.size()) shutdown(fd_, SHUT_RDWR);
  if (closed_ || out_begin_ == out_.size()) {
    out_begin_ = 0;
    out_.clear();
    if (out_.capacity() > kKeepBuffer) std::string().swap(out_);
  }
  UpdateInterestLocked();
}

ssize_t FramedConnection::WriteSome(const char* data, size_t size) {
  if (tls_ == nullptr) return send(fd_, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
  // A write that must wait is retried from the same unsent bytes, which
  // stay at the front of out_ until taken.
  const TlsSocket::Result result = tls_->Write(data, size);
  switch (result.io) {
    case TlsSocket::Io::kDone:
      return static_cast<ssize_t>(result.bytes);
    case TlsSocket::Io::kWantRead:
    case TlsSocket::Io::kWantWrite:
      errno = EAGAIN;
      return -1;
    case TlsSocket::Io::kEnd:
    case TlsSocket::Io::kFailed:
      break;
  }
  errno = EPIPE;
  return -1;
}

void FramedConnection::UpdateInterestLocked() {
  if (closed_) return;
  const size_t unsent = out_.size() - out_begin_;
  uint32_t want = 0;
  if (reading_ && unsent < kMaxUnsent) want |= EPOLLIN;
  // Held bytes are for the turn's end to send: no EPOLLOUT for them.
  if ((unsent > 0 && !held_) || handshake_wants_write_) want |= EPOLLOUT;
  if (want == interest_) return;
  interest_ = want;
  epoll_event event{};
  event.events = want;
  event.data.ptr = this;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd_, &event);
}

}  // namespace shoal::server
