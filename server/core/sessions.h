// The table of sessions: who is authenticated, by which bearer token, and
// until when. A session with an open stream lives while the stream does, and
// for a short grace after it breaks; a session without a stream lives on a
// lease that every call renews, and that does not run out while one of its
// unary calls is in progress (a grpcurl get parked on an empty queue).
//
// Thread-safe.
#ifndef SHOAL_SERVER_CORE_SESSIONS_H_
#define SHOAL_SERVER_CORE_SESSIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/registry.h"
#include "shared/mutex.h"

namespace shoal::server {

struct SessionInfo {
  SessionId id = 0;
  std::string client_name;
  std::string peer;
  absl::Time opened;
  absl::Time deadline;  // InfiniteFuture while a stream or a call is open
  int streams = 0;
  // Unary calls in progress.
  int calls = 0;
};

class Sessions {
 public:
  Sessions(absl::Duration lease, absl::Duration stream_grace);
  Sessions(const Sessions&) = delete;
  Sessions& operator=(const Sessions&) = delete;

  absl::Duration lease() const { return lease_; }

  // Opens a session; returns its id and its bearer token.
  std::pair<SessionId, std::string> Open(std::string client_name, std::string peer,
                                         absl::Time now);
  // The session a token belongs to, with its lease renewed.
  // AuthenticationError for an unknown or ended session.
  absl::StatusOr<SessionId> Authenticate(const std::string& token, absl::Time now);
  // Counts an open stream; false when the session has ended.
  bool AttachStream(SessionId id);
  void DetachStream(SessionId id, absl::Time now);
  // Counts a unary call in progress, which holds the lease open; false when
  // the session has ended. EndCall renews the lease from now once no call
  // nor stream is open.
  bool BeginCall(SessionId id);
  void EndCall(SessionId id, absl::Time now);
  // Ends a session now; false when it had ended already.
  bool Close(SessionId id);
  // Ends and returns the sessions whose time ran out.
  std::vector<SessionId> Expire(absl::Time now);
  bool Alive(SessionId id) const;
  std::vector<SessionInfo> List() const;

 private:
  struct State {
    SessionInfo info;
    std::string token;
  };

  const absl::Duration lease_;
  const absl::Duration stream_grace_;
  mutable Mutex mu_;
  SessionId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<SessionId, State> sessions_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, SessionId> by_token_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_CORE_SESSIONS_H_
