// The table of sessions: who is authenticated, by which bearer token, and
// until when. A session with an open stream lives while its client is heard
// from on it at least once per lease (each frame it sends counts, and a
// client with nothing to send sends heartbeats), and for a short grace after
// the stream breaks; a session without a stream lives on a lease that every
// call renews, and that does not run out while one of its unary calls is in
// progress (a grpcurl get parked on an empty queue).
//
// Thread-safe.
#ifndef SHOAL_SERVER_CORE_SESSIONS_H_
#define SHOAL_SERVER_CORE_SESSIONS_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/call_ledger.h"
#include "server/core/registry.h"
#include "shared/mutex.h"

namespace shoal::server {

struct SessionInfo {
  SessionId id = 0;
  std::string client_name;
  std::string peer;
  absl::Time opened;
  // When the session ends unless it is heard from: its last sign of life
  // plus the lease while a stream is attached; InfiniteFuture while, without
  // a stream, a unary call is in progress.
  absl::Time deadline;
  int streams = 0;
  // Unary calls in progress.
  int calls = 0;
};

// The link between a session and one stream attached to it. The stream
// records its client's signs of life here (Heard, a lock-free store cheap
// enough for every frame); the session table reads the latest to tell when
// the session has gone quiet for its lease, and then ends the stream through
// the link (End), unless the stream has detached from it first.
//
// Thread-safe.
class StreamLink {
 public:
  // What ends the stream, with the status its client is told.
  using EndFn = absl::AnyInvocable<void(const absl::Status&)>;

  // A stream heard from at now; end may be empty (nothing to end).
  StreamLink(absl::Time now, EndFn end);
  StreamLink(const StreamLink&) = delete;
  StreamLink& operator=(const StreamLink&) = delete;

  // The client was heard from at now.
  void Heard(absl::Time now) {
    heard_ns_.store(absl::ToUnixNanos(now), std::memory_order_relaxed);
  }
  // When the client was last heard from.
  absl::Time heard() const {
    return absl::FromUnixNanos(heard_ns_.load(std::memory_order_relaxed));
  }
  // Ends the stream with status, once, unless Detach has run.
  void End(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);
  // From now on End does nothing; waits for an End that is running. The
  // stream's end function must not call it.
  void Detach() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  std::atomic<int64_t> heard_ns_;
  Mutex mu_;
  EndFn end_ ABSL_GUARDED_BY(mu_);
};

// A session whose time ran out (Sessions::Expire).
struct ExpiredSession {
  SessionId id = 0;
  // The streams still attached to it: it was not heard from on them for its
  // lease. They are to be ended, with the reason.
  std::vector<std::shared_ptr<StreamLink>> streams;
};

class Sessions {
 public:
  Sessions(absl::Duration lease, absl::Duration stream_grace);
  Sessions(const Sessions&) = delete;
  Sessions& operator=(const Sessions&) = delete;

  absl::Duration lease() const { return lease_; }

  // Opens a session; returns its id and its bearer token. With
  // resume_secret, the session is resumable: its ledger keeps replies until
  // they are acknowledged, and *resume_secret is what resumes it (Resume).
  std::pair<SessionId, std::string> Open(std::string client_name, std::string peer,
                                         absl::Time now, std::string* resume_secret = nullptr);
  // The token of a resumable session a new connection resumes with its
  // secret, its lease renewed. SessionExpired, saying why when the server
  // remembers, for a session that has ended; AuthenticationError for a
  // wrong secret or a session that is not resumable. The streams still
  // attached to the session (connections its client has given up on, which
  // may look alive here) are ended with ConnectionError first.
  absl::StatusOr<std::string> Resume(SessionId id, const std::string& secret, absl::Time now)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The calls of the session's streams; null once it has ended.
  std::shared_ptr<CallLedger> Ledger(SessionId id) const;
  absl::Duration stream_grace() const { return stream_grace_; }
  // The session a token belongs to, with its lease renewed.
  // AuthenticationError for an unknown or ended session.
  absl::StatusOr<SessionId> Authenticate(const std::string& token, absl::Time now);
  // Attaches an open stream to the session: its signs of life (recorded in
  // link) keep the session alive, and the session ends the stream through
  // link should it end for want of them. False when the session has ended.
  bool AttachStream(SessionId id, std::shared_ptr<StreamLink> link);
  // The stream of link is gone; once no stream is attached, the session ends
  // after the stream grace unless one attaches again.
  void DetachStream(SessionId id, const StreamLink* link, absl::Time now);
  // Counts a unary call in progress, which holds the lease open; false when
  // the session has ended. EndCall renews the lease from now once no call
  // nor stream is open.
  bool BeginCall(SessionId id);
  void EndCall(SessionId id, absl::Time now);
  // Ends a session now; false when it had ended already.
  bool Close(SessionId id);
  // Ends and returns the sessions whose time ran out: without a stream, past
  // their lease or their grace; with one, not heard from for their lease.
  std::vector<ExpiredSession> Expire(absl::Time now);
  bool Alive(SessionId id) const;
  std::vector<SessionInfo> List() const;

 private:
  struct State {
    // info.deadline is kept for a session without a stream; with one, it
    // follows from heard and the streams' signs of life (DeadlineLocked).
    SessionInfo info;
    std::string token;
    // The last sign of life outside the streams: a unary call.
    absl::Time heard;
    std::vector<std::shared_ptr<StreamLink>> streams;
    // Empty for a session that cannot be resumed.
    std::string secret;
    std::shared_ptr<CallLedger> ledger;
    // Its last stream detached, and none came back yet.
    bool detached = false;
  };

  // Why a session ended, for a client that comes back to resume it; the
  // latest kRememberedEnds are remembered.
  void RememberEndLocked(SessionId id, std::string why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Resume's checks and renewal; *superseded gets the streams attached now.
  absl::StatusOr<std::string> FindForResume(SessionId id, const std::string& secret,
                                            absl::Time now,
                                            std::vector<std::shared_ptr<StreamLink>>* superseded)
      ABSL_LOCKS_EXCLUDED(mu_);
  static constexpr size_t kRememberedEnds = 4096;

  // When the session ends unless it is heard from.
  absl::Time DeadlineLocked(const State& state) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const absl::Duration lease_;
  const absl::Duration stream_grace_;
  mutable Mutex mu_;
  SessionId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<SessionId, State> sessions_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, SessionId> by_token_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<SessionId, std::string> ended_ ABSL_GUARDED_BY(mu_);
  std::deque<SessionId> ended_order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_CORE_SESSIONS_H_
