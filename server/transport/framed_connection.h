// One connection of the framed transport: the adapter between a socket and
// the stream's SessionCore. As the frame source it reads the socket (on its
// event loop's thread), cuts the bytes into frames (FrameReader), and hands
// each ClientFrame to the core: the first one's token attaches the stream to
// its session (the connection logs in). Until then nobody is known to be
// behind the connection: its first frame may hold at most kMaxLoginFrame
// bytes (a larger one ends the connection with a LimitError), and the
// PendingLogins it was given closes it if it does not log in in time; after,
// frames up to the server's message limit are read. As the frame sink it
// writes the core's replies and its last frame (a StreamEnd) without
// blocking, from whichever thread has them: what the socket does not take
// waits for it to drain, and a connection whose unsent replies pile up is not
// read until they drain.
//
// A call that does not park is read, run and answered by the loop thread,
// whose replies go out in one write once the frames it read are dispatched.
// Over TCP, that write waits for the end of the loop's turn, and goes with
// the replies of the turn's other connections (SendBatch). Over a unix
// socket it goes at once: sending together there cost the clients more than
// it saved the server (docs/performance.md). With TLS, each write goes
// through OpenSSL, at once too.
//
// With TLS (a context given), the connection first runs the TLS handshake
// without blocking; a client whose first byte is not a TLS handshake record
// is told, in a plaintext last frame, that the server requires TLS. Without
// TLS, a client that opens with a TLS handshake is told, in the same way, that
// the server does not use it.
//
// Owned by the server (FramedServer), which removes it before it lets it
// go. Thread-safe as marked: OnEvents and Remove on the loop thread, End and
// Break from any.
#ifndef SHOAL_SERVER_TRANSPORT_FRAMED_CONNECTION_H_
#define SHOAL_SERVER_TRANSPORT_FRAMED_CONNECTION_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <sys/types.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "server/core/core.h"
#include "server/transport/dispatch.h"
#include "server/transport/handshake.h"
#include "server/transport/send_batch.h"
#include "server/transport/session_core.h"
#include "server/transport/tls_socket.h"
#include "shared/frame_reader.h"
#include "shared/mutex.h"
#include "shared/session_frames.h"
#include "shoal/v1/session.pb.h"

namespace shoal::server {

class PendingLogins;

class FramedConnection : private FrameSink, private SendBatch::Sender {
 public:
  // The largest frame read before the connection has logged in. The
  // client's frames carry its session token, or the handshake's challenge
  // or answer, and little else.
  static constexpr size_t kMaxLoginFrame = 4 << 10;

  // Serves fd, which is in epoll_fd's set with this connection as its tag;
  // batch is that loop's. A connection that logs in by itself runs
  // handshake's steps. With tls, the connection speaks TLS.
  FramedConnection(Core& core, const Dispatcher& dispatcher, const Handshake& handshake, int fd,
                   int epoll_fd, SendBatch& batch, std::shared_ptr<SSL_CTX> tls = nullptr);
  ~FramedConnection() override;
  FramedConnection(const FramedConnection&) = delete;
  FramedConnection& operator=(const FramedConnection&) = delete;

  // Loop thread: serves what epoll reported. True once the loop is done with
  // the connection; then call Remove.
  bool OnEvents(uint32_t events);
  // Loop thread, once OnEvents said done (or the loop has stopped): takes
  // the socket out of the loop, shuts it, and detaches the session: the
  // replies of calls still in flight no longer come here.
  void Remove();

  // Called by logins (PendingLogins::Add), before the loop serves the
  // connection: the connection tells it when it logs in or goes.
  void AwaitLogin(PendingLogins* logins) { logins_ = logins; }
  // Any thread: if the connection has not logged in yet, it never will: it
  // ends with status (its StreamEnd) and closes. False, doing nothing, when
  // it has logged in already.
  bool RefuseLogin(const absl::Status& status);

  // For a server shutting down (SessionCore::End).
  void End();
  // For a server that stops: cancels whatever is parked, writes nothing more.
  void Break();

 private:
  // Loop thread, with TLS, before the handshake is done: the next step of
  // it. True once it is done.
  bool HandshakeStep();
  // Loop thread: ends a connection that does not speak what the server
  // does, with status in a plaintext last frame.
  void RefuseProtocol(const absl::Status& status);
  // Loop thread: one read (with TLS: until the socket has nothing more), and
  // every whole frame it completes. Returns the stream's state after the
  // frames read, when it is known without asking the session again.
  std::optional<StreamState> Read();
  // Loop thread: reads into space; as read(2) does, -1 with errno for
  // nothing now (EAGAIN) or a failure.
  ssize_t ReadSome(absl::Span<char> space);
  // Returns the stream's state once the replies to what it read have gone;
  // nullopt when it read nothing, or reading ended.
  std::optional<StreamState> ReadOnce();
  // Any thread, out_mu_ held: writes what the socket takes of data; as
  // send(2) does.
  ssize_t WriteSome(const char* data, size_t size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(out_mu_);
  // Loop thread: one frame. False when the connection is to be read no more.
  bool HandleFrame(absl::string_view message);
  // Loop thread, before login: one step of it, the frame in frame_: a
  // session token, a challenge, or the answer to the challenge given. False
  // when the connection ends (its login refused).
  bool LogInStep();
  bool Challenge();
  bool Answer();
  // Loop thread: the connection logs in now, unless its login was refused
  // meanwhile (false then); its login deadline is forgotten.
  bool TakeLogin();
  // Loop thread: attaches the stream to the session named by token, after
  // which frames up to the message limit are read. False when refused.
  bool Attach(absl::string_view token);
  // Loop thread, before login: writes a reply of the handshake, unless the
  // connection has ended meanwhile (its login refused). False then.
  bool WriteLoginFrame(const v1::ServerFrame& frame);

  // FrameSink, called with the session's mutex held (then out_mu_ is taken).
  bool WriteLocked(std::string& replies) override;
  void FinishLocked(const absl::Status& status) override;

  // SendBatch::Sender, on the loop thread at its turn's end.
  Mutex& send_mu() override ABSL_LOCK_RETURNED(out_mu_) { return out_mu_; }
  absl::string_view HeldLocked(int* fd) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(out_mu_);
  void SentLocked(size_t bytes) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(out_mu_);

  // Writes what the socket takes now; the rest waits for EPOLLOUT.
  void WriteOutLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(out_mu_);
  // Asks epoll for what the connection waits for now.
  void UpdateInterestLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(out_mu_);

  // Whether the connection has logged in: decided once, by its first frame
  // or its answer (on the loop thread) or by RefuseLogin (from any),
  // whichever comes first.
  enum class Login : uint8_t { kWaiting, kLoggedIn, kRefused };
  // Which frame the loop thread reads: the first, the answer to the
  // challenge it was given, or any after login.
  enum class Stage : uint8_t { kFirst, kChallenged, kIn };

  const Handshake& handshake_;
  const int fd_;
  const int epoll_fd_;
  SendBatch& batch_;
  const size_t max_message_bytes_;
  // With TLS: the connection's, or null.
  const std::unique_ptr<TlsSocket> tls_;
  // Whether replies made on the loop thread wait for its turn's end: over
  // TCP without TLS.
  const bool batched_;
  SessionCore session_;
  // Set before the loop serves the connection; told of its login and its end.
  PendingLogins* logins_ = nullptr;
  std::atomic<Login> login_{Login::kWaiting};

  // Loop thread only.
  FrameReader reader_;
  // A frame read: in place once logged in (view_), else parsed (frame_).
  ClientFrameView view_;
  v1::ClientFrame frame_;
  // Whether the first byte has been looked at (TLS or not).
  bool first_byte_seen_ = false;
  // What the last ReadOnce read.
  ssize_t last_read_ = 0;
  Stage stage_ = Stage::kFirst;
  // The connection is read no more: the client stopped writing, or broke
  // the protocol.
  bool read_no_more_ = false;

  // The writing side; taken after the session's mutex, when both are.
  Mutex out_mu_;
  // Bytes not yet taken by the socket, from out_begin_ on.
  std::string out_ ABSL_GUARDED_BY(out_mu_);
  size_t out_begin_ ABSL_GUARDED_BY(out_mu_) = 0;
  uint32_t interest_ ABSL_GUARDED_BY(out_mu_);
  // Whether the connection wants to read (set by the loop thread, cleared
  // by the last frame).
  bool reading_ ABSL_GUARDED_BY(out_mu_) = true;
  // The stream's last frame is in out_ (FinishLocked): once it is sent, the
  // socket shuts down.
  bool last_frame_written_ ABSL_GUARDED_BY(out_mu_) = false;
  // The socket failed or was shut: nothing more is written, and the loop
  // lets the connection go.
  bool closed_ ABSL_GUARDED_BY(out_mu_) = false;
  // The TLS handshake waits for the socket to take what it writes.
  bool handshake_wants_write_ ABSL_GUARDED_BY(out_mu_) = false;
  // The unsent bytes wait for the end of the loop's turn, which sends them
  // (the connection is in batch_ until then).
  bool held_ ABSL_GUARDED_BY(out_mu_) = false;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_FRAMED_CONNECTION_H_
