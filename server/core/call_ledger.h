// The calls of one session on its session streams, across the connections
// that carry them. A call is known by its call id, which a resumable client
// never reuses in the session (its sequence number). The ledger knows which
// calls are in flight and what cancels the parked ones, routes each reply to
// the stream the call arrived on (or was sent again on, after a resume), and,
// for a resumable session, keeps every reply until the client acknowledges
// it: a call sent again on a new connection after a break is then answered
// from what was kept, or attached to the run still in flight, and never runs
// twice. Parked calls of a resumable session stay parked when their stream
// breaks; the session's end cancels them (Core::EndSession).
//
// Streams attach (each gets a number) and detach; a reply whose stream has
// detached waits in the ledger, when it keeps replies, or is dropped.
//
// Thread-safe. ReplySink's methods are called with the ledger's mutex held.
#ifndef SHOAL_SERVER_CORE_CALL_LEDGER_H_
#define SHOAL_SERVER_CORE_CALL_LEDGER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/types/span.h"
#include "shared/mutex.h"

namespace shoal::server {

// A stream attached to a ledger: where replies go. Its methods run with the
// ledger's mutex held: they must not block, nor call into the ledger.
class ReplySink {
 public:
  virtual ~ReplySink() = default;
  // The reply to a call that arrived (or was sent again) on this stream.
  virtual void Deliver(uint64_t call_id, const absl::Status& status,
                       const std::string& response) = 0;
  // Several replies at once, in order (CallLedger::CompleteAll); by default
  // Deliver for each.
  struct Delivery {
    uint64_t call_id;
    const absl::Status* status;
    const std::string* response;
  };
  virtual void DeliverAll(absl::Span<const Delivery> replies) {
    for (const Delivery& reply : replies) Deliver(reply.call_id, *reply.status, *reply.response);
  }
  // The client let too many replies wait for its acknowledgement: the
  // stream is to end with why.
  virtual void Overflowed(const absl::Status& why) = 0;
  // A call that arrived on this stream was sent again on another while in
  // flight (a resume): its reply goes there, not here. A sink that counts
  // the calls it awaits counts this as it counts a delivery.
  virtual void Moved(uint64_t /*call_id*/) {}
};

class CallLedger {
 public:
  // Bounds on the replies kept for acknowledgement.
  struct Limits {
    size_t max_replies = size_t{1} << 18;
    size_t max_bytes = size_t{64} << 20;
  };
  using Cancels = std::vector<absl::AnyInvocable<void()>>;

  // keeps_replies: the session is resumable (its client acknowledges).
  CallLedger(bool keeps_replies, Limits limits) : keeps_replies_(keeps_replies), limits_(limits) {}
  CallLedger(const CallLedger&) = delete;
  CallLedger& operator=(const CallLedger&) = delete;

  bool keeps_replies() const { return keeps_replies_; }

  // Attaches a stream; returns its number, for the calls below.
  uint64_t Attach(ReplySink* sink) ABSL_LOCKS_EXCLUDED(mu_);
  // The stream is gone: no reply goes to it from now on (waits for a
  // delivery that runs now). When the ledger keeps no replies, the parked
  // calls that arrived on it are cancelled (run the result without locks
  // held): nobody could get their replies.
  Cancels Detach(uint64_t stream) ABSL_LOCKS_EXCLUDED(mu_);

  // What a call arriving on a stream is.
  enum class Arrival {
    // New: run it (Complete answers it).
    kNew,
    // Sent again while it runs (a resume): its reply goes to this stream.
    kInFlight,
    // Sent again on the same stream while it runs: a client at fault.
    kDuplicate,
    // Answered already: *status and *response hold the reply kept.
    kAnswered,
  };
  Arrival Arrive(uint64_t call_id, uint64_t stream, absl::Status* status, std::string* response)
      ABSL_LOCKS_EXCLUDED(mu_);
  // A reply kept, for a call that arrives answered already.
  struct Answer {
    absl::Status status;
    std::string response;
  };
  using Arrivals = absl::InlinedVector<Arrival, 8>;
  // Ack(acks), then Arrive for each call of a frame in turn, under one
  // acquisition of the ledger's mutex: (*arrivals)[i] is the i-th call's,
  // and *answers gets the replies kept for the calls kAnswered, in their
  // order.
  void ArriveAll(absl::Span<const uint64_t> acks, absl::Span<const uint64_t> call_ids,
                 uint64_t stream, Arrivals* arrivals, std::vector<Answer>* answers)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The call parked; cancel cancels it. False when the call was answered
  // meanwhile, or its stream is gone and the ledger keeps no replies: then
  // the caller runs cancel itself, at once.
  bool Park(uint64_t call_id, absl::AnyInvocable<void()>& cancel) ABSL_LOCKS_EXCLUDED(mu_);
  // What cancels one parked call (empty when it is not parked).
  absl::AnyInvocable<void()> TakeCancel(uint64_t call_id) ABSL_LOCKS_EXCLUDED(mu_);
  // What cancels every parked call that arrived on stream.
  Cancels TakeCancelsOf(uint64_t stream) ABSL_LOCKS_EXCLUDED(mu_);
  // The call's outcome: delivered to its stream, if attached, and kept
  // until acknowledged when the ledger keeps replies.
  void Complete(uint64_t call_id, const absl::Status& status, std::string response)
      ABSL_LOCKS_EXCLUDED(mu_);
  // A call's outcome, for CompleteAll.
  struct Completion {
    uint64_t call_id;
    absl::Status status;
    std::string response;
  };
  // Complete for each, in order, under one acquisition of the ledger's
  // mutex; the replies for one stream reach it together (DeliverAll). Takes
  // the responses. Unlike calls of Complete one by one, every reply is
  // delivered before any is kept: should keeping them pass the limits, the
  // streams learn it after the whole batch.
  void CompleteAll(absl::Span<Completion> done) ABSL_LOCKS_EXCLUDED(mu_);
  // The client read the replies of these calls: they are forgotten.
  void Ack(absl::Span<const uint64_t> call_ids) ABSL_LOCKS_EXCLUDED(mu_);
  // The session has ended: nothing is kept from now on. Sessions calls it as
  // it forgets the session, under its own lock.
  void End() ABSL_LOCKS_EXCLUDED(mu_);
  // Held by SessionCore::DispatchAll while it dispatches a frame: a
  // session's frames are dispatched one at a time, whatever stream brought
  // them, so that the calls a client sends again on a new stream after a
  // resume find the calls of a frame read before it run, in their order.
  // Taken before mu_.
  Mutex& dispatch_mutex() ABSL_LOCK_RETURNED(dispatch_mu_) { return dispatch_mu_; }
  // Whether End was called: the session is over. Lock-free, so that a call
  // checks its session's liveness without the sessions' lock (the answer is
  // the same as Sessions::Alive's, which End is called together with).
  bool ended() const { return ended_flag_.load(std::memory_order_acquire); }

  // Replies kept for acknowledgement, and their bytes.
  size_t kept() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // A call the ledger knows: running (its reply not yet given), or answered
  // and its reply kept until the client acknowledges it. One entry through
  // both states: a call costs one insertion and one erasure.
  // Small, for the table's sake: what cancels a parked call is in parked_.
  struct Call {
    // Running: the stream its reply goes to.
    uint64_t stream = 0;
    // Running: parked, with what cancels it in parked_.
    bool parked = false;
    // Between CompleteAll's delivery of its reply and KeepLocked.
    bool completing = false;
    bool answered = false;
    // Answered: the reply kept.
    absl::Status status;
    std::string response;
  };
  // What a kept reply costs beyond its response and message: its slot in
  // calls_ (key, entry and control byte).
  static constexpr size_t kKeptOverhead = sizeof(uint64_t) + sizeof(Call) + 1;
  // Keeps a call's reply until the client acknowledges it, when the ledger
  // keeps replies; past the limits, keeps nothing more and ends the streams.
  // Forgets the call otherwise.
  void KeepLocked(absl::flat_hash_map<uint64_t, Call>::iterator call, const absl::Status& status,
                  std::string response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets every reply kept.
  void ForgetKeptLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AckLocked(absl::Span<const uint64_t> call_ids) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Arrival ArriveLocked(uint64_t call_id, uint64_t stream, absl::Status* status,
                       std::string* response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The call, when it is running.
  Call* RunningLocked(uint64_t call_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What cancels the call, which is parked; it is parked no more.
  absl::AnyInvocable<void()> UnparkLocked(uint64_t call_id, Call& call)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What cancels every parked call that arrived on stream.
  Cancels TakeCancelsOfLocked(uint64_t stream) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const bool keeps_replies_;
  const Limits limits_;
  Mutex dispatch_mu_;
  mutable Mutex mu_ ABSL_ACQUIRED_AFTER(dispatch_mu_);
  uint64_t next_stream_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, ReplySink*> streams_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, Call> calls_ ABSL_GUARDED_BY(mu_);
  // What cancels each parked call (Call::parked): few calls park, and a
  // pipeline's calls never do.
  absl::flat_hash_map<uint64_t, absl::AnyInvocable<void()>> parked_ ABSL_GUARDED_BY(mu_);
  // The calls answered, and the bytes of their replies.
  size_t kept_ ABSL_GUARDED_BY(mu_) = 0;
  size_t kept_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // ForgetKeptLocked emptied much of calls_: to be rehashed to its size.
  bool shrink_ ABSL_GUARDED_BY(mu_) = false;
  // The limits were passed: nothing is kept any more.
  bool overflowed_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  // ended_, for readers without mu_.
  std::atomic<bool> ended_flag_{false};
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_CORE_CALL_LEDGER_H_
