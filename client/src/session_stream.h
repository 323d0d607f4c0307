// What carries a session's frames: the framed transport (FramedEndpoint in
// auth.proto), a plain TCP or unix socket with one less thread hand-over on
// each side of a round trip, or gRPC's Session/Stream (grpc_transport.h).
// The framed transport's sockets are made through fork.h, so that a forked
// child closes its copies.
//
// Thread-safety: one reader and one writer at a time, each on its own
// thread; Cancel from any thread.
#ifndef SHOAL_CLIENT_SRC_SESSION_STREAM_H_
#define SHOAL_CLIENT_SRC_SESSION_STREAM_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/src/handshake.h"
#include "shared/session_frames.h"
#include "shoal/manager.h"
#include "shoal/v1/auth.pb.h"
#include "shoal/v1/session.pb.h"

namespace shoal::detail {

class SessionStream {
 public:
  virtual ~SessionStream() = default;
  // Writes one frame, given as its serialized ClientFrame body; false once
  // the stream is closed for writing. One writer at a time.
  virtual bool WriteBody(absl::string_view body) = 0;
  bool Write(const v1::ClientFrame& frame) { return WriteBody(frame.SerializeAsString()); }
  // Ends the writing side; the server ends the stream once it has answered.
  virtual void WritesDone() = 0;
  // Reads one frame's replies; false at the end of the stream. The views
  // hold until the next Read. One reader at a time.
  virtual bool Read(ServerFrameView* frame) = 0;
  // How the stream ended, once Read has returned false: OK for an orderly
  // end, else the code and message the server or the socket gave.
  virtual absl::Status Finish() = 0;
  // Breaks the stream off, from any thread: a blocked Read returns false.
  virtual void Cancel() = 0;

  // Has the kernel end the connection when what it sent stays
  // unacknowledged, or its keep-alive probes unanswered, for about bound
  // (TCP_USER_TIMEOUT and TCP keep-alive), on a TCP socket. A no-op where
  // the transport watches its path itself (gRPC's keep-alive pings, set on
  // its channel) or there is no network (a unix socket).
  virtual void WatchPath(std::chrono::milliseconds bound) { (void)bound; }
  // When bytes last arrived from the server (Unix nanoseconds), for a
  // transport that can tell, from any thread; nullopt for one that cannot
  // (gRPC, whose frames arrive whole, and which watches its path itself).
  virtual std::optional<int64_t> LastReceivedNanos() const { return std::nullopt; }
};

// Connects to the framed transport the server offered: its unix socket when
// address (the gRPC target) is unix:..., else its port on address's host.
// The first frame, carrying token, is written before it returns. With tls,
// the connection speaks TLS (tls.h). An error says why it could not be
// reached.
absl::StatusOr<std::unique_ptr<SessionStream>> OpenFramedStream(
    const std::string& address, const v1::FramedEndpoint& endpoint, const std::string& token,
    std::chrono::system_clock::time_point deadline,
    const std::optional<TlsOptions>& tls = std::nullopt);

// A session opened on the framed transport alone: its stream, attached to
// the session, and the server's answer (session id, token, limits, where
// the framed transport listens).
struct FramedLogin {
  std::unique_ptr<SessionStream> stream;
  v1::AnswerReply answer;
};

// Connects as OpenFramedStream does and runs the handshake in the
// connection's first two frames (ClientFrame.challenge, then .answer), with
// no gRPC: how a process forked after gRPC was used logs in. The server's
// proof is checked as on gRPC (handshake.h). Throws ConnectionError when the
// server cannot be reached or does not answer by deadline,
// AuthenticationError when either side does not hold key, saying which, and
// the error the server ends the connection with otherwise.
FramedLogin LogInFramed(const std::string& address, const v1::FramedEndpoint& endpoint,
                        const std::string& key, const std::string& client_name,
                        std::chrono::system_clock::time_point deadline,
                        const SessionRequest& wanted = {},
                        const std::optional<TlsOptions>& tls = std::nullopt);

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_SESSION_STREAM_H_
