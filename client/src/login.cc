#include "shoal/login.h"

#include "client/src/grpc_transport.h"

namespace shoal {

Login login(const std::string& address, const AuthKey& key, const ConnectOptions& options) {
  detail::Handshake handshake = detail::RunHandshake(address, key.secret(), options);
  Login out;
  out.session_id = handshake.answer.session_id();
  out.token = handshake.answer.token();
  out.lease = std::chrono::milliseconds(handshake.answer.lease_ms());
  out.max_message_bytes = handshake.answer.max_message_bytes();
  out.incarnation = handshake.answer.incarnation();
  return out;
}

}  // namespace shoal
