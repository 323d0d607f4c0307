// A session without a stream, for tools that make plain unary calls (grpcurl,
// scripts, other languages): login() runs the same two-way handshake as
// Manager::connect and returns the session's bearer token, which such calls
// carry as the metadata "authorization: Bearer <token>".
//
// Such a session lives on its lease: it ends `lease` after its last call
// unless a call or Session/KeepAlive renews it, and at Session/Close. When it
// ends, the server gives back what it held, as for any session: references,
// Lock and RLock holdings, Semaphore permits, parked calls.
#ifndef SHOAL_LOGIN_H_
#define SHOAL_LOGIN_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "shoal/auth_key.h"
#include "shoal/manager.h"

namespace shoal {

struct Login {
  // The session's id, as Manager::sessions() lists it.
  std::string session_id;
  // The bearer token; as secret as the authkey while the session lives.
  std::string token;
  // How long the session outlives its last call.
  std::chrono::milliseconds lease{0};
  // The largest message the server accepts or sends.
  int64_t max_message_bytes = 0;
  // The server's incarnation: 16 lowercase hex digits, new at each start
  // of the server. Object ids are only meaningful with it; tokens carry it
  // after "@", and Manager/Lookup takes it to refuse an id of another start.
  std::string incarnation;
};

// Runs the handshake with the server at address (host:port or unix:PATH).
// Throws ConnectionError when the server cannot be reached in
// options.timeout, AuthenticationError when either side's proof fails.
Login login(const std::string& address, const AuthKey& key, const ConnectOptions& options = {});

}  // namespace shoal

#endif  // SHOAL_LOGIN_H_
