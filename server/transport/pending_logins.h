// The framed connections that have not logged in yet: accepted, and not yet
// attached to a session, either by a first frame carrying a session token or
// by the handshake run in their first two frames.
// Before login nobody is known to be behind a connection, so what it may cost
// the server is bounded: each gets a deadline (the login timeout), after
// which it is closed, and at most max_pending wait at once.
//
// When a connection arrives with max_pending waiting already, the oldest
// waiting one is closed to make room, rather than the new one refused. A
// client that holds the key sends its first frame as soon as it has
// connected, so it waits for a round trip (two, for the handshake); a flood of silent connections
// would have to outpace that to close it. Refusing new connections instead
// would let the same flood lock every client out for a whole login timeout.
//
// The deadlines run on the core's timer thread (Timers): no thread per
// connection.
//
// Thread-safe: Add on the accepting thread, Remove from any, deadlines on the
// timer thread. Must outlive the connections it was given until their Remove
// (FramedConnection::Remove calls it).
#ifndef SHOAL_SERVER_TRANSPORT_PENDING_LOGINS_H_
#define SHOAL_SERVER_TRANSPORT_PENDING_LOGINS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "server/objects/waiting.h"
#include "shared/mutex.h"

namespace shoal::server {

class FramedConnection;

class PendingLogins {
 public:
  // timers must outlive this object.
  PendingLogins(Timers& timers, absl::Duration timeout, size_t max_pending);
  // Cancels the deadlines still pending.
  ~PendingLogins();
  PendingLogins(const PendingLogins&) = delete;
  PendingLogins& operator=(const PendingLogins&) = delete;

  // A connection just accepted, before its loop serves it: closes it unless
  // it logs in within the timeout; closes the oldest one waiting when
  // max_pending are waiting already.
  void Add(const std::shared_ptr<FramedConnection>& connection) ABSL_LOCKS_EXCLUDED(mu_);
  // The connection logged in, or is going: forgets it and its deadline. A
  // no-op for a connection not waiting.
  void Remove(FramedConnection* connection) ABSL_LOCKS_EXCLUDED(mu_);

  // Connections waiting to log in.
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Waiting {
    // The key of seq_of_, even once connection has expired.
    FramedConnection* raw = nullptr;
    std::weak_ptr<FramedConnection> connection;
    Timers::TimerId deadline = 0;
  };

  // Timer thread: the login deadline of the connection added as number seq.
  void TimedOut(uint64_t seq) ABSL_LOCKS_EXCLUDED(mu_);

  Timers& timers_;
  const absl::Duration timeout_;
  const size_t max_pending_;

  mutable Mutex mu_;
  // By the order of arrival: the oldest first.
  std::map<uint64_t, Waiting> waiting_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<FramedConnection*, uint64_t> seq_of_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_PENDING_LOGINS_H_
