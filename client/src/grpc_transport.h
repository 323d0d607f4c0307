// Where the client library uses gRPC: the handshake that opens a session
// (Auth/Challenge, then Auth/Answer, on a gRPC channel), and gRPC's
// Session/Stream as a SessionStream, for sessions that do not use the framed
// transport. Nothing else in the library sees a gRPC type.
//
// Thread-safety: the functions may be called from any thread.
#ifndef SHOAL_CLIENT_SRC_GRPC_TRANSPORT_H_
#define SHOAL_CLIENT_SRC_GRPC_TRANSPORT_H_

#include <grpcpp/channel.h>

#include <chrono>
#include <memory>
#include <string>

#include "client/src/handshake.h"
#include "client/src/session_stream.h"
#include "shoal/manager.h"
#include "shoal/v1/auth.pb.h"

namespace shoal::detail {

// The outcome of the handshake: the channel it ran on, the server's answer
// (session id, bearer token, lease, message limit, framed endpoint) and the
// deadline the options set, for what follows.
struct Handshake {
  std::shared_ptr<grpc::Channel> channel;
  v1::AnswerReply answer;
  std::chrono::system_clock::time_point deadline;
};

// Reaches the server and runs the two-way handshake; the session it makes
// lives on its lease until a stream is opened for it. Throws
// ConnectionError or AuthenticationError.
Handshake RunHandshake(const std::string& address, const std::string& key,
                       const ConnectOptions& options, const SessionRequest& wanted = {});

// Opens Session/Stream on channel, authorized by the bearer token. The stream
// keeps the channel.
std::unique_ptr<SessionStream> OpenGrpcStream(std::shared_ptr<grpc::Channel> channel,
                                              const std::string& token);

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_GRPC_TRANSPORT_H_
