#include "client/src/handshake.h"

#include <unistd.h>

#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shared/hmac.h"

namespace shoal::detail {

bool ServerProvesKey(absl::string_view key, absl::string_view client_nonce,
                     const v1::ChallengeReply& challenge) {
  const std::string expected = ServerProof(key, client_nonce, challenge.server_nonce());
  return ConstantTimeEquals(challenge.server_proof(), expected);
}

v1::AnswerRequest AnswerFor(absl::string_view key, absl::string_view client_nonce,
                            const v1::ChallengeReply& challenge, std::string client_name,
                            const SessionRequest& wanted) {
  v1::AnswerRequest request;
  request.set_resumable(wanted.resumable || wanted.resume != nullptr);
  if (wanted.resume != nullptr) *request.mutable_resume() = *wanted.resume;
  request.set_challenge_id(challenge.challenge_id());
  request.set_client_proof(ClientProof(key, challenge.server_nonce(), client_nonce));
  request.set_client_name(std::move(client_name));
  return request;
}

std::string DefaultClientName() {
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host[0] != '\0' ? host : "unknown-host", " pid ", getpid());
}

}  // namespace shoal::detail
