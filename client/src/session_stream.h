// What carries a session's frames: the framed transport (FramedEndpoint in
// session.proto), a plain TCP or unix socket with one less thread hand-over on
// each side of a round trip, or gRPC's Session/Stream (grpc_transport.h).
//
// Thread-safety: one reader and one writer at a time, each on its own
// thread; Cancel from any thread.
#ifndef SHOAL_CLIENT_SRC_SESSION_STREAM_H_
#define SHOAL_CLIENT_SRC_SESSION_STREAM_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shoal/v1/auth.pb.h"
#include "shoal/v1/session.pb.h"

namespace shoal::detail {

class SessionStream {
 public:
  virtual ~SessionStream() = default;
  // Writes one frame; false once the stream is closed for writing. One
  // writer at a time.
  virtual bool Write(const v1::ClientFrame& frame) = 0;
  // Ends the writing side; the server ends the stream once it has answered.
  virtual void WritesDone() = 0;
  // Reads one frame; false at the end of the stream. One reader at a time.
  virtual bool Read(v1::ServerFrame* frame) = 0;
  // How the stream ended, once Read has returned false: OK for an orderly
  // end, else the code and message the server or the socket gave.
  virtual absl::Status Finish() = 0;
  // Breaks the stream off, from any thread: a blocked Read returns false.
  virtual void Cancel() = 0;
};

// Connects to the framed transport the server offered: its unix socket when
// address (the gRPC target) is unix:..., else its port on address's host.
// The first frame, carrying token, is written before it returns. An error
// says why it could not be reached.
absl::StatusOr<std::unique_ptr<SessionStream>> OpenFramedStream(
    const std::string& address, const v1::FramedEndpoint& endpoint, const std::string& token,
    std::chrono::system_clock::time_point deadline);

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_SESSION_STREAM_H_
