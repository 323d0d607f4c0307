#include "server/transport/authenticate.h"

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "shared/error_kind.h"

namespace shoal::server {

absl::StatusOr<std::string> TokenFromAuthorization(absl::string_view header) {
  constexpr absl::string_view kScheme = "Bearer ";
  if (!absl::StartsWithIgnoreCase(header, kScheme)) {
    return MakeError(ErrorKind::kAuthenticationError,
                     "authorization metadata must be 'Bearer <token>'");
  }
  header.remove_prefix(kScheme.size());
  return std::string(header);
}

absl::StatusOr<std::string> BearerToken(const grpc::CallbackServerContext& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return MakeError(ErrorKind::kAuthenticationError,
                     "missing 'authorization: Bearer <token>' metadata; get a token with "
                     "the Auth service (or 'shoal token')");
  }
  return TokenFromAuthorization(absl::string_view(it->second.data(), it->second.size()));
}

absl::StatusOr<SessionId> Authenticate(Core& core, const grpc::CallbackServerContext& context) {
  absl::StatusOr<std::string> token = BearerToken(context);
  if (!token.ok()) return token.status();
  return core.sessions().Authenticate(*token, absl::Now());
}

}  // namespace shoal::server
