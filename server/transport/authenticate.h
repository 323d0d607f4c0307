// The one place where a call's bearer token becomes a session: every service
// but Auth and Health calls Authenticate first.
#ifndef SHOAL_SERVER_TRANSPORT_AUTHENTICATE_H_
#define SHOAL_SERVER_TRANSPORT_AUTHENTICATE_H_

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "server/core/core.h"

namespace shoal::server {

// The session named by the call's "authorization: Bearer <token>" metadata,
// with its lease renewed. AuthenticationError (UNAUTHENTICATED) when the
// header is missing or malformed, or the token is unknown.
absl::StatusOr<SessionId> Authenticate(Core& core, const grpc::CallbackServerContext& context);

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_AUTHENTICATE_H_
