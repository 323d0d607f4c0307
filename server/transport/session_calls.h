// The calls in flight on one session stream, whatever carries the stream:
// gRPC's Session/Stream or the framed transport. Each call of a frame is
// dispatched; its reply is queued in queued_ and the transport is told, to
// write it when it can.
//
// A call that parks stays in calls_ until its completion answers it, with
// what cancels it (CallControl). A Cancel in a frame cancels one parked call;
// a stream that breaks (or a server shutting down) cancels them all. The
// transport must outlive every call it dispatched: it ends only once calls_
// is empty, which CallEndedLocked tells it.
#ifndef SHOAL_SERVER_TRANSPORT_SESSION_CALLS_H_
#define SHOAL_SERVER_TRANSPORT_SESSION_CALLS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "server/core/core.h"
#include "server/transport/dispatch.h"
#include "shared/mutex.h"
#include "shoal/v1/session.pb.h"

namespace shoal::server {

// How a session stream ends when the server shuts down (UNAVAILABLE).
inline constexpr char kShuttingDown[] = "ConnectionError: the server is shutting down";

class SessionCalls {
 public:
  SessionCalls(Core& core, const Dispatcher& dispatcher) : core_(core), dispatcher_(dispatcher) {}
  virtual ~SessionCalls() = default;
  SessionCalls(const SessionCalls&) = delete;
  SessionCalls& operator=(const SessionCalls&) = delete;

 protected:
  using Cancels = std::vector<absl::AnyInvocable<void()>>;

  // Dispatches the calls of one frame, then its cancels. session_ must be set.
  void DispatchFrame(const v1::ClientFrame& frame) ABSL_LOCKS_EXCLUDED(mu_);

  // Takes every parked call's cancellation; calls that park later are
  // cancelled at once. Run them with RunAll, without mu_.
  Cancels TakeCancelsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void RunAll(Cancels& cancels);

  // What each call's completion holds until it has run: the transport, when
  // it is shared-owned, so that it outlives its calls. None by default.
  virtual std::shared_ptr<void> HoldForCall() { return nullptr; }

  bool NoCallsLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_.empty(); }

  // The transport's side, called with mu_ held.
  // Whether replies are still wanted; when not, they are dropped.
  virtual bool TakesRepliesLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  // queued_ holds a new reply: write it when you can.
  virtual void ReplyQueuedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  // A call has ended; the transport may end once NoCallsLocked().
  virtual void CallEndedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;

  Core& core_;
  const Dispatcher& dispatcher_;
  SessionId session_ = 0;
  Mutex mu_;
  // Replies not yet handed to the transport's writer.
  v1::ServerFrame queued_ ABSL_GUARDED_BY(mu_);

 private:
  // One call in flight.
  struct InFlight {
    // Set while the call is parked: what cancels it.
    absl::AnyInvocable<void()> cancel;
  };
  class Control;

  void Dispatch(const v1::Call& call) ABSL_LOCKS_EXCLUDED(mu_);
  void SetCancel(uint64_t call_id, absl::AnyInvocable<void()> cancel) ABSL_LOCKS_EXCLUDED(mu_);
  void CancelCall(uint64_t call_id) ABSL_LOCKS_EXCLUDED(mu_);
  void Complete(uint64_t call_id, const absl::Status& status, std::string response)
      ABSL_LOCKS_EXCLUDED(mu_);
  void QueueReplyLocked(uint64_t call_id, const absl::Status& status, std::string response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::flat_hash_map<uint64_t, InFlight> calls_ ABSL_GUARDED_BY(mu_);
  // Every parked call is being cancelled: later ones are cancelled at once.
  bool cancelling_all_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_SESSION_CALLS_H_
