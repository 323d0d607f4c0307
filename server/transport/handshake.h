// The server's half of the authkey handshake (auth.proto), whatever carries
// it: the Auth service's two unary calls, or the first two frames of a framed
// connection that logs in by itself (framed_connection.h). Both go through
// these two functions, so a login means the same on either port: the
// challenge is issued and redeemed by the core's Challenges, and a redeemed
// answer opens a session in the core's Sessions.
//
// Thread-safe once set_framed has run (before the server serves).
#ifndef SHOAL_SERVER_TRANSPORT_HANDSHAKE_H_
#define SHOAL_SERVER_TRANSPORT_HANDSHAKE_H_

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "server/core/core.h"
#include "shoal/v1/auth.pb.h"

namespace shoal::server {

class Handshake {
 public:
  explicit Handshake(Core& core) : core_(core) {}
  Handshake(const Handshake&) = delete;
  Handshake& operator=(const Handshake&) = delete;

  // Where the framed transport listens, offered in every AnswerReply; set
  // before serving, and never when the server offers none.
  void set_framed(v1::FramedEndpoint framed) { framed_ = std::move(framed); }

  // Step one: a challenge carrying the server's proof. ValueError for a
  // client nonce of the wrong size.
  absl::StatusOr<v1::ChallengeReply> Challenge(const v1::ChallengeRequest& request) const;

  // Step two: checks the client's proof and opens its session, listed with
  // the client's name and peer (how the connection's other end is named).
  // AuthenticationError, saying why, for a wrong, used or expired answer;
  // LimitError when too many logins are remembered (see Challenges).
  absl::StatusOr<v1::AnswerReply> Answer(const v1::AnswerRequest& request,
                                         std::string peer) const;

 private:
  Core& core_;
  v1::FramedEndpoint framed_;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_HANDSHAKE_H_
