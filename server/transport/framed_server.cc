#include "server/transport/framed_server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/transport/grpc_status.h"
#include "server/transport/session_calls.h"
#include "shared/error_kind.h"
#include "shared/framing.h"

namespace shoal::server {
namespace {

// How much a connection reads at a time.
constexpr size_t kReadChunk = 64 << 10;
// Unsent replies past which a connection is not read until they drain.
constexpr size_t kMaxUnsent = 8 << 20;
// Buffers past this size are given back once empty.
constexpr size_t kKeepBuffer = 1 << 20;

// Tags of the descriptors that are not connections, in epoll's data.
char listener_tag;
char wake_tag;

absl::Status SystemError(absl::string_view what) {
  return error::ValueError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

// One framed connection. The loop thread that owns it reads and parses its
// frames (the fields marked "loop thread"); replies are written under mu_ by
// whichever thread has them.
class FramedConnection : public SessionCalls,
                         public std::enable_shared_from_this<FramedConnection> {
 public:
  FramedConnection(FramedServer& server, int fd, int epoll_fd)
      : SessionCalls(server.core_, server.dispatcher_),
        fd_(fd),
        epoll_fd_(epoll_fd),
        max_frame_(static_cast<size_t>(server.core_.options().max_message_bytes)) {}
  ~FramedConnection() override { close(fd_); }

  int fd() const { return fd_; }

  // Loop thread: serves what epoll reported. True once the loop is done with
  // the connection; then call Remove.
  bool OnEvents(uint32_t events) ABSL_LOCKS_EXCLUDED(mu_) {
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) Read();
    Cancels cancels;
    bool done = false;
    {
      MutexLock lock(&mu_);
      if ((events & EPOLLOUT) != 0) WriteOutLocked();
      // The socket is gone both ways: nothing more can be read or written.
      if ((events & (EPOLLHUP | EPOLLERR)) != 0) failed_ = true;
      MaybeFinishLocked();
      if (failed_ && !broken_) cancels = BreakLocked();
      done = broken_ || (finished_ && out_begin_ == out_.size());
      if (!done) UpdateInterestLocked();
    }
    RunAll(cancels);
    return done;
  }

  // Loop thread, once OnEvents said done: the loop lets go of it. Calls still
  // in flight hold it until they are answered, and their replies are dropped.
  void Remove() {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd_, nullptr);
    shutdown(fd_, SHUT_RDWR);
    if (attached_) core_.sessions().DetachStream(session_, absl::Now());
  }

  // For a server shutting down: cancels the parked calls, and ends the
  // stream (UNAVAILABLE) once every call is answered.
  void End() ABSL_LOCKS_EXCLUDED(mu_) {
    Cancels cancels;
    {
      MutexLock lock(&mu_);
      if (finished_ || broken_) return;
      ending_ = true;
      cancels = TakeCancelsLocked();
      MaybeFinishLocked();
    }
    RunAll(cancels);
  }

  // For a server that stops: cancels whatever is parked, writes nothing more.
  void Break() ABSL_LOCKS_EXCLUDED(mu_) {
    Cancels cancels;
    {
      MutexLock lock(&mu_);
      cancels = BreakLocked();
    }
    RunAll(cancels);
    shutdown(fd_, SHUT_RDWR);
  }

 private:
  std::shared_ptr<void> HoldForCall() override { return shared_from_this(); }

  bool TakesRepliesLocked() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !broken_ && !finished_ && !failed_;
  }

  // Replies that complete while the loop thread dispatches a frame go out
  // together when it is done; others at once.
  void ReplyQueuedLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!in_read_) FlushLocked();
  }

  void CallEndedLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { MaybeFinishLocked(); }

  // Loop thread: one read, and every whole frame it completes.
  void Read() ABSL_LOCKS_EXCLUDED(mu_) {
    if (in_begin_ > 0) {
      std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
      in_end_ -= in_begin_;
      in_begin_ = 0;
    }
    const size_t room = std::max(kReadChunk, in_needed_ > in_end_ ? in_needed_ - in_end_ : 0);
    if (in_.size() < in_end_ + room) in_.resize(in_end_ + room);
    const ssize_t n = read(fd_, in_.data() + in_end_, in_.size() - in_end_);
    if (n <= 0) {
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
      Cancels cancels;
      {
        MutexLock lock(&mu_);
        if (n < 0) {
          failed_ = true;
          return;
        }
        // The client has stopped writing: it closed its session, or its
        // process is gone. Either way nobody waits for what is parked.
        reading_done_ = true;
        cancels = TakeCancelsLocked();
      }
      RunAll(cancels);
      return;
    }
    in_end_ += static_cast<size_t>(n);
    {
      MutexLock lock(&mu_);
      in_read_ = true;
    }
    while (in_end_ - in_begin_ >= kFrameHeaderBytes) {
      const size_t size = ReadFrameHeader(in_.data() + in_begin_);
      if (size > max_frame_) {
        Fail(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat("LimitError: a frame of ", size,
                                       " bytes is past the server's message limit of ",
                                       max_frame_)));
        break;
      }
      if (in_end_ - in_begin_ < kFrameHeaderBytes + size) {
        in_needed_ = kFrameHeaderBytes + size;
        break;
      }
      const bool more = HandleFrame(in_.data() + in_begin_ + kFrameHeaderBytes, size);
      in_begin_ += kFrameHeaderBytes + size;
      in_needed_ = 0;
      if (!more) break;
    }
    if (in_begin_ == in_end_) {
      in_begin_ = in_end_ = 0;
      if (in_.size() > kKeepBuffer) std::string().swap(in_);
    }
    MutexLock lock(&mu_);
    in_read_ = false;
    FlushLocked();
    MaybeFinishLocked();
  }

  // Loop thread: one frame. False when the connection is to be read no more.
  bool HandleFrame(const char* data, size_t size) ABSL_LOCKS_EXCLUDED(mu_) {
    if (!frame_.ParseFromArray(data, static_cast<int>(size))) {
      Fail(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "ValueError: a frame is not a ClientFrame message"));
      return false;
    }
    if (!greeted_) {
      greeted_ = true;
      absl::StatusOr<SessionId> session =
          core_.sessions().Authenticate(frame_.token(), absl::Now());
      if (!session.ok()) {
        Fail(ToGrpcStatus(session.status()));
        return false;
      }
      session_ = *session;
      if (!core_.sessions().AttachStream(session_)) {
        Fail(ToGrpcStatus(MakeError(ErrorKind::kAuthenticationError, "session ended")));
        return false;
      }
      attached_ = true;
    }
    DispatchFrame(frame_);
    frame_.Clear();
    return true;
  }

  // Ends the connection for a fault of the client's: says why, and breaks it.
  void Fail(const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    if (!finished_ && !broken_) FinishLocked(status.error_code(), status.error_message());
    failed_ = true;
  }

  // Puts the queued replies after the unsent bytes, and writes.
  void FlushLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (queued_.replies_size() > 0) {
      AppendFrame(queued_, &out_);
      queued_.Clear();
    }
    WriteOutLocked();
  }

  // Writes what the socket takes now; the rest waits for EPOLLOUT.
  void WriteOutLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (out_begin_ < out_.size()) {
      const ssize_t n = send(fd_, out_.data() + out_begin_, out_.size() - out_begin_,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        out_begin_ += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      // The peer is gone. The loop hears of it (the shutdown wakes it), and
      // breaks the connection.
      failed_ = true;
      out_begin_ = out_.size();
      shutdown(fd_, SHUT_RDWR);
      break;
    }
    if (out_begin_ == out_.size()) {
      out_begin_ = 0;
      out_.clear();
      if (out_.capacity() > kKeepBuffer) std::string().swap(out_);
    }
    UpdateInterestLocked();
  }

  // Asks epoll for what the connection waits for now.
  void UpdateInterestLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const size_t unsent = out_.size() - out_begin_;
    uint32_t want = 0;
    if (!reading_done_ && !failed_ && !finished_ && unsent < kMaxUnsent) want |= EPOLLIN;
    if (unsent > 0) want |= EPOLLOUT;
    if (want == interest_) return;
    interest_ = want;
    epoll_event event{};
    event.events = want;
    event.data.ptr = this;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd_, &event);
  }

  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || broken_ || failed_ || in_read_ || !NoCallsLocked()) return;
    if (ending_) {
      FinishLocked(grpc::StatusCode::UNAVAILABLE, kShuttingDown);
    } else if (reading_done_) {
      FinishLocked(grpc::StatusCode::OK, "");
    }
  }

  // Writes the last frame. Once it is out the sockets shuts down, which also
  // wakes the loop to remove the connection.
  void FinishLocked(grpc::StatusCode code, absl::string_view message)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    finished_ = true;
    FlushLocked();
    v1::ServerFrame last;
    last.mutable_end()->set_code(static_cast<int>(code));
    last.mutable_end()->set_message(std::string(message));
    AppendFrame(last, &out_);
    WriteOutLocked();
    if (out_begin_ == out_.size()) shutdown(fd_, SHUT_RDWR);
  }

  Cancels BreakLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    broken_ = true;
    return TakeCancelsLocked();
  }

  const int fd_;
  const int epoll_fd_;
  const size_t max_frame_;

  // Loop thread only.
  std::string in_;
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  // The size of the frame being read, header included, once known.
  size_t in_needed_ = 0;
  v1::ClientFrame frame_;
  bool greeted_ = false;
  // Set once, on the loop thread, before any call is dispatched.
  bool attached_ = false;

  // Bytes not yet taken by the socket, from out_begin_ on.
  std::string out_ ABSL_GUARDED_BY(mu_);
  size_t out_begin_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t interest_ ABSL_GUARDED_BY(mu_) = EPOLLIN;
  // The loop thread is dispatching what it read: replies wait for its flush.
  bool in_read_ ABSL_GUARDED_BY(mu_) = false;
  // The client has finished writing.
  bool reading_done_ ABSL_GUARDED_BY(mu_) = false;
  // The socket failed, or the client broke the protocol: break it.
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  // Parked calls are cancelled and replies dropped; the loop removes it.
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool ending_ ABSL_GUARDED_BY(mu_) = false;
  // The last frame is written or waits to be.
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

struct FramedServer::Loop {
  ~Loop() {
    if (epoll_fd >= 0) close(epoll_fd);
    if (wake_fd >= 0) close(wake_fd);
  }
  int epoll_fd = -1;
  int wake_fd = -1;
  std::thread thread;
};

FramedServer::FramedServer(Core& core, const Dispatcher& dispatcher)
    : core_(core), dispatcher_(dispatcher) {}

FramedServer::~FramedServer() { Stop(); }

absl::StatusOr<v1::FramedEndpoint> FramedServer::Start(const std::string& address, int threads) {
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
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) return SystemError("socket");
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
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
    listen_fd_ = socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) {
      freeaddrinfo(found);
      return SystemError("socket");
    }
    const int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    const int bound = bind(listen_fd_, found->ai_addr, found->ai_addrlen);
    freeaddrinfo(found);
    if (bound != 0) return SystemError(absl::StrCat("cannot listen on ", address));
    sockaddr_storage local{};
    socklen_t length = sizeof(local);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&local), &length);
    const uint16_t bound_port =
        local.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&local)->sin6_port
                                    : reinterpret_cast<sockaddr_in*>(&local)->sin_port;
    endpoint.set_port(ntohs(bound_port));
  }
  if (listen(listen_fd_, SOMAXCONN) != 0) return SystemError("listen");

  for (int i = 0; i < std::max(1, threads); ++i) {
    auto loop = std::make_unique<Loop>();
    loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    loop->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->epoll_fd < 0 || loop->wake_fd < 0) return SystemError("epoll");
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = &wake_tag;
    epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->wake_fd, &event);
    loops_.push_back(std::move(loop));
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.ptr = &listener_tag;
  epoll_ctl(loops_[0]->epoll_fd, EPOLL_CTL_ADD, listen_fd_, &event);
  for (auto& loop : loops_) {
    Loop* raw = loop.get();
    loop->thread = std::thread([this, raw] { Run(*raw); });
  }
  return endpoint;
}

void FramedServer::Run(Loop& loop) {
  constexpr int kEvents = 64;
  epoll_event events[kEvents];
  for (;;) {
    const int n = epoll_wait(loop.epoll_fd, events, kEvents, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < n; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == &wake_tag) return;
      if (tag == &listener_tag) {
        Accept();
        continue;
      }
      auto* connection = static_cast<FramedConnection*>(tag);
      if (connection->OnEvents(events[i].events)) {
        connection->Remove();
        Forget(connection);
      }
    }
  }
}

void FramedServer::Accept() {
  for (;;) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // EAGAIN, or out of descriptors: the next connection retries.
    }
    if (unix_path_.empty()) {
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      // A client whose host vanishes sends no FIN: probes find it gone after
      // about a minute of silence, and unacknowledged replies after 30 s.
      setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
      const int idle = 30, interval = 10, count = 3;
      setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
      setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
      setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
      const unsigned int user_timeout_ms = 30000;
      setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof(user_timeout_ms));
    }
    Loop& loop = *loops_[next_loop_++ % loops_.size()];
    auto connection = std::make_shared<FramedConnection>(*this, fd, loop.epoll_fd);
    bool ending = false;
    {
      MutexLock lock(&mu_);
      if (stopped_) return;  // connection closes the descriptor
      connections_.emplace(connection.get(), connection);
      ending = ending_;
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = connection.get();
    epoll_ctl(loop.epoll_fd, EPOLL_CTL_ADD, fd, &event);
    if (ending) connection->End();
  }
}

void FramedServer::Forget(FramedConnection* connection) {
  std::shared_ptr<FramedConnection> last;
  MutexLock lock(&mu_);
  auto it = connections_.find(connection);
  if (it == connections_.end()) return;
  last = std::move(it->second);
  connections_.erase(it);
  // last goes after mu_ is released (declared before the lock).
}

void FramedServer::End() {
  std::vector<std::shared_ptr<FramedConnection>> open;
  {
    MutexLock lock(&mu_);
    ending_ = true;
    for (auto& [raw, connection] : connections_) open.push_back(connection);
  }
  for (auto& connection : open) connection->End();
}

void FramedServer::Stop() {
  {
    MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  for (auto& loop : loops_) {
    const uint64_t one = 1;
    if (loop->wake_fd >= 0) (void)!write(loop->wake_fd, &one, sizeof(one));
  }
  for (auto& loop : loops_) {
    if (loop->thread.joinable()) loop->thread.join();
  }
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
  if (!unix_path_.empty()) unlink(unix_path_.c_str());
  absl::flat_hash_map<FramedConnection*, std::shared_ptr<FramedConnection>> open;
  {
    MutexLock lock(&mu_);
    open.swap(connections_);
  }
  for (auto& [raw, connection] : open) {
    connection->Break();
    connection->Remove();
  }
  open.clear();
  loops_.clear();
}

}  // namespace shoal::server
