// The server's half of the authkey handshake: issues challenges that carry the
// server's proof, and redeems the client's answer.
//
// Issuing a challenge stores nothing, so that any number of clients without
// the key asking for challenges cannot fill a table and lock out the clients
// that hold it. The challenge id carries what the server needs to check the
// answer, in clear: a version, the expiry, the server nonce and the client
// nonce, followed by a MAC over all of them under a secret drawn at random
// when the process starts (never the authkey, never sent). Redeem recomputes
// the MAC (constant-time comparison) and so knows the id is one this process
// issued and untouched, then checks the expiry, then the client's proof.
//
// A challenge is redeemed successfully once: the ids of successful answers
// are remembered until they expire, and a second answer is refused as
// "already used". A wrong proof does not use the challenge up: it tells an
// attacker nothing (the proof is an HMAC-SHA256 under the key, which cannot
// be searched for), and the window stays filled only by clients that hold the
// key. The window is capped: when max_recent redeemed challenges are still
// unexpired, a further answer is refused with LimitError until the oldest
// expire (forgetting one early would let its id be replayed).
//
// Thread-safe.
#ifndef SHOAL_SERVER_CORE_CHALLENGES_H_
#define SHOAL_SERVER_CORE_CHALLENGES_H_

#include <set>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "shared/mutex.h"

namespace shoal::server {

class Challenges {
 public:
  struct Issued {
    std::string id;
    std::string server_nonce;
    std::string server_proof;
  };

  // Challenges expire ttl after they are issued. At most max_recent redeemed
  // challenges are remembered at once (see above).
  Challenges(std::string authkey, absl::Duration ttl, size_t max_recent);

  // A new challenge for client_nonce, which must be 16 to 64 bytes
  // (ValueError otherwise). Stores nothing.
  absl::StatusOr<Issued> Issue(const std::string& client_nonce, absl::Time now) const;

  // Checks the client's proof for challenge id. AuthenticationError, with a
  // message naming which, for a malformed challenge (not one this process
  // issued, or altered), an expired one, one already used, or a wrong proof
  // (the authkey). LimitError when the window of redeemed challenges is full.
  absl::Status Redeem(const std::string& id, const std::string& client_proof, absl::Time now)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Forgets the redeemed challenges that have expired.
  void Expire(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  // Redeemed challenges remembered now.
  size_t remembered() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // A redeemed challenge: its expiry and its MAC (unique to the id), ordered
  // by expiry so that the expired ones are forgotten from the front.
  using Redeemed = std::pair<absl::Time, std::string>;

  void ForgetExpiredLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string authkey_;
  // The key of the ids' MACs: random, this process's only.
  const std::string secret_;
  const absl::Duration ttl_;
  const size_t max_recent_;
  mutable Mutex mu_;
  std::set<Redeemed> redeemed_ ABSL_GUARDED_BY(mu_);
  // Every challenge expiring before this has been forgotten, used or not:
  // the latest now the window was cleared with. Never goes back.
  absl::Time forgotten_before_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_CORE_CHALLENGES_H_
