// The client's half of the authkey handshake (proto/shoal/v1/auth.proto) as
// pure functions, apart from the gRPC calls that carry it
// (grpc_transport.cc): checking the server's proof, and making the answer.
#ifndef SHOAL_CLIENT_SRC_HANDSHAKE_H_
#define SHOAL_CLIENT_SRC_HANDSHAKE_H_

#include <string>

#include "absl/strings/string_view.h"
#include "shoal/v1/auth.pb.h"

namespace shoal::detail {

// Whether challenge, the server's reply to the challenge for client_nonce,
// proves that the server holds key.
bool ServerProvesKey(absl::string_view key, absl::string_view client_nonce,
                     const v1::ChallengeReply& challenge);

// The answer to challenge: the client's proof that it holds key.
v1::AnswerRequest AnswerFor(absl::string_view key, absl::string_view client_nonce,
                            const v1::ChallengeReply& challenge, std::string client_name);

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_HANDSHAKE_H_
