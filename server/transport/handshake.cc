#include "server/transport/handshake.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "shared/error_kind.h"
#include "shared/incarnation.h"

namespace shoal::server {

absl::StatusOr<v1::ChallengeReply> Handshake::Challenge(
    const v1::ChallengeRequest& request) const {
  absl::StatusOr<Challenges::Issued> issued =
      core_.challenges().Issue(request.client_nonce(), absl::Now());
  if (!issued.ok()) return issued.status();
  v1::ChallengeReply reply;
  reply.set_challenge_id(issued->id);
  reply.set_server_nonce(issued->server_nonce);
  reply.set_server_proof(issued->server_proof);
  return reply;
}

absl::StatusOr<v1::AnswerReply> Handshake::Answer(const v1::AnswerRequest& request,
                                                  std::string peer) const {
  const absl::Time now = absl::Now();
  absl::Status redeemed =
      core_.challenges().Redeem(request.challenge_id(), request.client_proof(), now);
  if (!redeemed.ok()) return redeemed;
  v1::AnswerReply reply;
  if (request.has_resume()) {
    const v1::ResumeSession& resume = request.resume();
    uint64_t incarnation = 0;
    if (!ParseIncarnation(resume.incarnation(), &incarnation) ||
        incarnation != core_.incarnation()) {
      return MakeError(ErrorKind::kSessionExpired,
                       absl::StrCat("session ", resume.session_id(), " has ended: the server "
                                    "restarted (the session was opened under incarnation ",
                                    resume.incarnation(), ", this start is ",
                                    FormatIncarnation(core_.incarnation()), ")"));
    }
    SessionId id = 0;
    if (!absl::SimpleAtoi(resume.session_id(), &id)) {
      return error::ValueError(
          absl::StrCat("malformed session id to resume: '", resume.session_id(), "'"));
    }
    absl::StatusOr<std::string> token = core_.sessions().Resume(id, resume.secret(), now);
    if (!token.ok()) return token.status();
    reply.set_session_id(resume.session_id());
    reply.set_token(*std::move(token));
    reply.set_resume_secret(resume.secret());
  } else {
    std::string secret;
    auto [id, token] = core_.sessions().Open(request.client_name(), std::move(peer), now,
                                             request.resumable() ? &secret : nullptr);
    reply.set_session_id(std::to_string(id));
    reply.set_token(token);
    reply.set_resume_secret(secret);
  }
  reply.set_stream_grace_ms(absl::ToInt64Milliseconds(core_.sessions().stream_grace()));
  reply.set_lease_ms(absl::ToInt64Milliseconds(core_.sessions().lease()));
  reply.set_max_message_bytes(core_.options().max_message_bytes);
  if (framed_.port() != 0 || !framed_.unix_path().empty()) *reply.mutable_framed() = framed_;
  reply.set_incarnation(FormatIncarnation(core_.incarnation()));
  return reply;
}

}  // namespace shoal::server
