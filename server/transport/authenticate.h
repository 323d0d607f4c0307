// The one place where a gRPC call's bearer token becomes a session: every
// service but Auth and Health calls Authenticate first (the session stream
// hands the token to its SessionCore, which authenticates it the same way).
#ifndef SHOAL_SERVER_TRANSPORT_AUTHENTICATE_H_
#define SHOAL_SERVER_TRANSPORT_AUTHENTICATE_H_

#include <grpcpp/server_context.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/core.h"

namespace shoal::server {

// The token of an "authorization" header's value, "Bearer <token>" (the
// scheme in any case). AuthenticationError when it has another form.
absl::StatusOr<std::string> TokenFromAuthorization(absl::string_view header);

// The token of the call's "authorization: Bearer <token>" metadata.
// AuthenticationError (UNAUTHENTICATED) when the header is missing or
// malformed.
absl::StatusOr<std::string> BearerToken(const grpc::CallbackServerContext& context);

// The session named by the call's bearer token, with its lease renewed.
// AuthenticationError when the header is missing or malformed, or the token
// is unknown.
absl::StatusOr<SessionId> Authenticate(Core& core, const grpc::CallbackServerContext& context);

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_AUTHENTICATE_H_
