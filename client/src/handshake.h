// The client's half of the authkey handshake (proto/shoal/v1/auth.proto) as
// pure functions, apart from what carries it (the gRPC calls of
// grpc_transport.cc, or the first frames of a framed connection in
// session_stream.cc): checking the server's proof, making the answer, and
// what the user is told when a proof fails, the same whichever carries it.
#ifndef SHOAL_CLIENT_SRC_HANDSHAKE_H_
#define SHOAL_CLIENT_SRC_HANDSHAKE_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "shoal/v1/auth.pb.h"

namespace shoal::detail {

// The size of the client's nonce.
inline constexpr size_t kClientNonceBytes = 32;

// The AuthenticationError messages, after "... the shoal server at ADDRESS: ".
// The client answers a challenge even when the server's proof failed, so as
// to say which side's proof did: a server with another key refuses ours
// (kRefusedOurKey), a server without one cannot check it and takes it
// (kServerNotProved). The session such a server opens is never used.
inline constexpr absl::string_view kRefusedOurKey = "the server refused our authkey (wrong key?)";
inline constexpr absl::string_view kServerNotProved =
    "the server could not prove it knows the authkey (wrong server or wrong key?)";

// Whether challenge, the server's reply to the challenge for client_nonce,
// proves that the server holds key.
bool ServerProvesKey(absl::string_view key, absl::string_view client_nonce,
                     const v1::ChallengeReply& challenge);

// How a login asks for its session: a new one, resumable or not, or the
// resumption of one whose connection broke.
struct SessionRequest {
  // The client acknowledges replies and may resume (AnswerRequest.resumable).
  bool resumable = false;
  // Set to resume that session instead of opening one.
  const v1::ResumeSession* resume = nullptr;
};

// The answer to challenge: the client's proof that it holds key, asking for
// the session as wanted says.
v1::AnswerRequest AnswerFor(absl::string_view key, absl::string_view client_nonce,
                            const v1::ChallengeReply& challenge, std::string client_name,
                            const SessionRequest& wanted = {});

// The name a session is listed with when ConnectOptions leave it empty:
// "<host> pid <pid>", of the process that logs in.
std::string DefaultClientName();

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_HANDSHAKE_H_
