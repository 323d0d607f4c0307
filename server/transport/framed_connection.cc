#include "server/transport/framed_connection.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "server/transport/pending_logins.h"
#include "server/transport/stream_errors.h"
#include "shared/error_kind.h"
#include "shared/framing.h"

namespace shoal::server {
namespace {

// How much a connection reads at a time.
constexpr size_t kReadChunk = 64 << 10;
// Unsent replies past which a connection is not read until they drain.
constexpr size_t kMaxUnsent = 8 << 20;
// An output buffer past this size is given back once empty.
constexpr size_t kKeepBuffer = 1 << 20;

}  // namespace

FramedConnection::FramedConnection(Core& core, const Dispatcher& dispatcher, int fd,
                                   int epoll_fd)
    : fd_(fd),
      epoll_fd_(epoll_fd),
      max_message_bytes_(static_cast<size_t>(core.options().max_message_bytes)),
      // The end of a socket's input means its client closed the session or
      // is gone: nobody waits for what is parked.
      session_(core, dispatcher, *this, SessionCore::InputEnd::kCancelParked),
      reader_(std::min(kMaxLoginFrame, max_message_bytes_)),
      interest_(EPOLLIN) {}

FramedConnection::~FramedConnection() { close(fd_); }

bool FramedConnection::OnEvents(uint32_t events) {
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) Read();
  bool closed = false;
  {
    MutexLock lock(&out_mu_);
    if ((events & EPOLLOUT) != 0) WriteOutLocked();
    // The socket is gone both ways: nothing more can be read or written.
    if ((events & (EPOLLHUP | EPOLLERR)) != 0) closed_ = true;
    closed = closed_;
  }
  if (closed) session_.Break();
  const StreamState state = session_.state();
  MutexLock lock(&out_mu_);
  const bool done = closed_ || state == StreamState::kBroken || state == StreamState::kClosed ||
                    (state == StreamState::kFinished && out_begin_ == out_.size());
  if (!done) {
    // Never back on: the state read above may be older than a finish that a
    // completion made meanwhile, which turned reading off for good.
    reading_ = reading_ && !read_no_more_ && state != StreamState::kFinished;
    UpdateInterestLocked();
  }
  return done;
}

void FramedConnection::Remove() {
  {
    MutexLock lock(&out_mu_);
    closed_ = true;
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

void FramedConnection::Read() {
  if (read_no_more_) return;
  absl::Span<char> space = reader_.WriteSpace(kReadChunk);
  const ssize_t n = read(fd_, space.data(), space.size());
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n < 0) {
      MutexLock lock(&out_mu_);
      closed_ = true;
      return;
    }
    read_no_more_ = true;
    session_.OnInputEnd();
    return;
  }
  reader_.Commit(static_cast<size_t>(n));
  session_.HoldReplies();
  while (std::optional<absl::string_view> message = reader_.Next()) {
    if (!HandleFrame(*message)) break;
  }
  if (!reader_.status().ok()) {
    read_no_more_ = true;
    session_.Fail(greeted_ ? reader_.status()
                           : error::LimitError(absl::StrCat(
                                 "before it has logged in, a connection's first frame may hold "
                                 "at most ",
                                 kMaxLoginFrame, " bytes (its session token): ",
                                 reader_.status().message())));
  }
  session_.ReleaseReplies();
}

bool FramedConnection::HandleFrame(absl::string_view message) {
  if (!frame_.ParseFromArray(message.data(), static_cast<int>(message.size()))) {
    read_no_more_ = true;
    session_.Fail(error::ValueError("a frame is not a ClientFrame message"));
    return false;
  }
  if (!greeted_) {
    greeted_ = true;
    Login waiting = Login::kWaiting;
    if (!login_.compare_exchange_strong(waiting, Login::kLoggedIn)) {
      // Refused meanwhile (its deadline, or too many waiting): it has ended.
      read_no_more_ = true;
      return false;
    }
    if (logins_ != nullptr) logins_->Remove(this);
    if (!session_.Attach(frame_.token())) {
      read_no_more_ = true;
      return false;
    }
    reader_.set_max_frame(max_message_bytes_);
  }
  session_.OnFrame(frame_);
  frame_.Clear();
  return true;
}

bool FramedConnection::WriteLocked(v1::ServerFrame& replies) {
  MutexLock lock(&out_mu_);
  if (closed_) return true;
  AppendFrame(replies, &out_);
  WriteOutLocked();
  return true;
}

void FramedConnection::FinishLocked(const absl::Status& status) {
  MutexLock lock(&out_mu_);
  reading_ = false;
  if (closed_) return;
  v1::ServerFrame last;
  FillStreamEnd(status, last.mutable_end());
  AppendFrame(last, &out_);
  WriteOutLocked();
  // Once the last frame is out the socket shuts down, which also wakes the
  // loop to remove the connection.
  if (out_begin_ == out_.size()) shutdown(fd_, SHUT_RDWR);
}

void FramedConnection::WriteOutLocked() {
  while (!closed_ && out_begin_ < out_.size()) {
    const ssize_t n = send(fd_, out_.data() + out_begin_, out_.size() - out_begin_,
                           MSG_NOSIGNAL | MSG_DONTWAIT);
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
  if (closed_ || out_begin_ == out_.size()) {
    out_begin_ = 0;
    out_.clear();
    if (out_.capacity() > kKeepBuffer) std::string().swap(out_);
  }
  UpdateInterestLocked();
}

void FramedConnection::UpdateInterestLocked() {
  if (closed_) return;
  const size_t unsent = out_.size() - out_begin_;
  uint32_t want = 0;
  if (reading_ && unsent < kMaxUnsent) want |= EPOLLIN;
  if (unsent > 0) want |= EPOLLOUT;
  if (want == interest_) return;
  interest_ = want;
  epoll_event event{};
  event.events = want;
  event.data.ptr = this;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd_, &event);
}

}  // namespace shoal::server
