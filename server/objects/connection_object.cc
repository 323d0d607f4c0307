#include "server/objects/connection_object.h"

#include <deque>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "server/objects/budget_account.h"
#include "server/objects/waiter_list.h"
#include "shared/error_kind.h"
#include "shared/mutex.h"

namespace shoal::server {
namespace {

// Python's messages for a call on a closed end or in the wrong direction
// (Connection._check_closed, _check_readable, _check_writable).
Outcome ClosedOutcome() { return Outcome::Error(error::OSError("connection is closed")); }
Outcome WriteOnlyOutcome() { return Outcome::Error(error::OSError("connection is write-only")); }
Outcome ReadOnlyOutcome() { return Outcome::Error(error::OSError("connection is read-only")); }
// A send to an end whose peer is closed: Python's BrokenPipeError.
Outcome BrokenPipeOutcome() {
  return Outcome::Error(error::OSError("the other end of the pipe is closed"));
}
Outcome EofOutcome() { return Outcome::Error(error::EOFError("the other end of the pipe is closed")); }

// A side's three lists of parked calls have tags of their own, so that an id
// names one waiter of one list of one side.
constexpr WaitIdTag kReceiverTag = 1;
constexpr WaitIdTag kPollerTag = 2;
constexpr WaitIdTag kSenderTag = 3;
constexpr WaitIdTag kTagsPerSide = 3;

WaitIdTag TagOf(int side, WaitIdTag list) {
  return static_cast<WaitIdTag>(side * kTagsPerSide + list);
}

}  // namespace

class PipeChannel {
 public:
  PipeChannel(bool duplex, int64_t buffer_bytes, MemoryBudget* budget, Timers* timers)
      : duplex_(duplex),
        buffer_bytes_(buffer_bytes),
        timers_(timers),
        first_(0, budget, timers, this),
        second_(1, budget, timers, this) {}
  PipeChannel(const PipeChannel&) = delete;
  PipeChannel& operator=(const PipeChannel&) = delete;

  // The end object of side, whose MarkMayHoldRefs a message holding
  // references calls; null once that end is gone.
  void Attach(int side, Object* end) ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    SideLocked(side).end = end;
  }

  WaitId Send(int side, WaitRequest request, Value item) ABSL_LOCKS_EXCLUDED(mu_);
  WaitId Recv(int side, WaitRequest request) ABSL_LOCKS_EXCLUDED(mu_);
  WaitId Poll(int side, WaitRequest request) ABSL_LOCKS_EXCLUDED(mu_);
  // Closes side; with detach, also forgets its end object, which is going.
  void Close(int side, bool detach) ABSL_LOCKS_EXCLUDED(mu_);
  void Cancel(int side, WaitId id) ABSL_LOCKS_EXCLUDED(mu_);
  void EndSession(int side, SessionId session) ABSL_LOCKS_EXCLUDED(mu_);

  bool Closed(int side) const ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    return SideLocked(side).closed;
  }
  int64_t Pending(int side) const ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    return static_cast<int64_t>(SideLocked(side).inbound.size());
  }
  int64_t PendingBytes(int side) const ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    return SideLocked(side).account.held();
  }
  int64_t NReceivers(int side) const ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    return SideLocked(side).receivers.size();
  }
  int64_t NPollers(int side) const ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    return SideLocked(side).pollers.size();
  }
  int64_t NSenders(int side) const ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    return SideLocked(side).senders.size();
  }
  std::string Repr(int side, uint64_t peer_id) const ABSL_LOCKS_EXCLUDED(mu_);
  void ForEachRef(int side, const std::function<void(const ObjectRef&)>& fn) const
      ABSL_LOCKS_EXCLUDED(mu_);
  Holdings Held(int side) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // A parked sender's message, held until it is admitted into the other
  // end's buffer.
  struct Message {
    Value item;
    int64_t bytes = 0;
  };

  // One end's share of the channel: what was sent to it, and its calls
  // parked.
  struct Side {
    Side(int index, MemoryBudget* budget, Timers* timers, PipeChannel* channel)
        : account(budget),
          receivers(timers, TagOf(index, kReceiverTag),
                    [channel, index](WaitId id) { channel->Expire(index, id); }),
          pollers(timers, TagOf(index, kPollerTag),
                  [channel, index](WaitId id) { channel->Expire(index, id); }),
          senders(timers, TagOf(index, kSenderTag),
                  [channel, index](WaitId id) { channel->Expire(index, id); }) {}

    bool closed = false;
    Object* end = nullptr;
    // Messages sent to this end, oldest first; account holds exactly the sum
    // of their ApproxBytes.
    std::deque<Value> inbound;
    BudgetAccount account;
    // Receivers and pollers wait only while inbound is empty and both ends
    // are open; senders wait only while the other end's inbound is full and
    // both ends are open. Whoever changes that completes them in the same
    // step.
    WaiterList<> receivers;
    WaiterList<> pollers;
    WaiterList<Message> senders;

    // Calls fn on each of the three lists of parked calls.
    template <typename Fn>
    void ForEachWaiterList(Fn fn) {
      fn(receivers);
      fn(pollers);
      fn(senders);
    }
  };

  Side& SideLocked(int side) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return side == 0 ? first_ : second_;
  }
  const Side& SideLocked(int side) const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return side == 0 ? first_ : second_;
  }
  bool Readable(int side) const { return duplex_ || side == 0; }
  bool Writable(int side) const { return duplex_ || side == 1; }

  // Whether a message of bytes goes into to's buffer now: it holds room for
  // it, or is empty (so that a message larger than the buffer goes alone).
  bool FitsLocked(const Side& to, int64_t bytes) const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return to.inbound.empty() || to.account.held() + bytes <= buffer_bytes_;
  }
  // Buffers item for the end of side to, charging it to the budget first
  // (LimitError changes nothing), and wakes that end's pollers.
  absl::Status StoreLocked(Side& to, Value item, int64_t bytes, Settlement& settle)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Admits the oldest parked senders of from into to's buffer while they fit.
  void AdmitSendersLocked(Side& from, Side& to, Settlement& settle)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A message holding references enters the channel: both ends may now hold
  // references, so the collector must visit them.
  void MarkRefsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The timer callback of waiter id of side: completes it with TimeoutError
  // or False, unless something else completed it first.
  void Expire(int side, WaitId id) ABSL_LOCKS_EXCLUDED(mu_);

  const bool duplex_;
  const int64_t buffer_bytes_;
  Timers* const timers_;
  mutable Mutex mu_;
  Side first_ ABSL_GUARDED_BY(mu_);
  Side second_ ABSL_GUARDED_BY(mu_);
};

absl::Status PipeChannel::StoreLocked(Side& to, Value item, int64_t bytes, Settlement& settle) {
  absl::Status reserved = to.account.Reserve(bytes);
  if (!reserved.ok()) return reserved;
  if (item.contains_ref()) MarkRefsLocked();
  to.inbound.push_back(std::move(item));
  to.pollers.CompleteAll(Outcome::Ok(true), settle);
  return absl::OkStatus();
}

void PipeChannel::AdmitSendersLocked(Side& from, Side& to, Settlement& settle) {
  while (auto* sender = from.senders.Oldest()) {
    if (!FitsLocked(to, sender->payload.bytes)) return;
    // The budget may have shrunk since the sender parked; then this sender
    // fails and the next one gets its chance.
    absl::Status stored =
        StoreLocked(to, std::move(sender->payload.item), sender->payload.bytes, settle);
    from.senders.CompleteOldest(stored.ok() ? Outcome::Ok(Value()) : Outcome::Error(stored),
                                settle);
  }
}

void PipeChannel::MarkRefsLocked() {
  for (Side* side : {&first_, &second_}) {
    if (side->end != nullptr) side->end->MarkMayHoldRefs();
  }
}

WaitId PipeChannel::Send(int side, WaitRequest request, Value item) {
  const bool must_not_wait = DeadlinePassed(request.deadline, *timers_);
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  Side& from = SideLocked(side);
  Side& to = SideLocked(1 - side);
  if (from.closed) {
    settle.CompleteNow(std::move(request.done), ClosedOutcome());
    return 0;
  }
  if (!Writable(side)) {
    settle.CompleteNow(std::move(request.done), ReadOnlyOutcome());
    return 0;
  }
  if (to.closed) {
    settle.CompleteNow(std::move(request.done), BrokenPipeOutcome());
    return 0;
  }
  if (!to.receivers.empty()) {
    // Receivers wait only while nothing is buffered, so the oldest one is
    // next in line for this message: it goes straight there.
    to.receivers.CompleteOldest(Outcome::Ok(std::move(item)), settle);
    settle.CompleteNow(std::move(request.done), Outcome::Ok(Value()));
    return 0;
  }
  const int64_t bytes = ApproxBytes(item);
  // Behind parked senders a message waits its turn, however small: the
  // order of a direction is the order its sends were taken in.
  if (from.senders.empty() && FitsLocked(to, bytes)) {
    absl::Status stored = StoreLocked(to, std::move(item), bytes, settle);
    settle.CompleteNow(std::move(request.done),
                       stored.ok() ? Outcome::Ok(Value()) : Outcome::Error(std::move(stored)));
    return 0;
  }
  if (must_not_wait) {
    settle.CompleteNow(std::move(request.done),
                       Outcome::Error(MakeError(ErrorKind::kTimeoutError, "the pipe is full")));
    return 0;
  }
  // The parked message is held here too, and ForEachRef visits it.
  if (item.contains_ref()) MarkRefsLocked();
  return from.senders.Park(request.caller, request.deadline, std::move(request.done), settle,
                           Message{std::move(item), bytes});
}

WaitId PipeChannel::Recv(int side, WaitRequest request) {
  const bool must_not_wait = DeadlinePassed(request.deadline, *timers_);
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  Side& me = SideLocked(side);
  Side& peer = SideLocked(1 - side);
  if (me.closed || !Readable(side)) {
    settle.CompleteNow(std::move(request.done), me.closed ? ClosedOutcome() : WriteOnlyOutcome());
    return 0;
  }
  if (!me.inbound.empty()) {
    Value item = std::move(me.inbound.front());
    me.inbound.pop_front();
    me.account.Release(ApproxBytes(item));
    settle.CompleteNow(std::move(request.done), Outcome::Ok(std::move(item)));
    AdmitSendersLocked(peer, me, settle);
    return 0;
  }
  if (peer.closed) {
    settle.CompleteNow(std::move(request.done), EofOutcome());
    return 0;
  }
  if (must_not_wait) {
    settle.CompleteNow(std::move(request.done),
                       Outcome::Error(MakeError(ErrorKind::kTimeoutError, "nothing to receive")));
    return 0;
  }
  return me.receivers.Park(request.caller, request.deadline, std::move(request.done), settle);
}

WaitId PipeChannel::Poll(int side, WaitRequest request) {
  const bool must_not_wait = DeadlinePassed(request.deadline, *timers_);
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  Side& me = SideLocked(side);
  if (me.closed || !Readable(side)) {
    settle.CompleteNow(std::move(request.done), me.closed ? ClosedOutcome() : WriteOnlyOutcome());
    return 0;
  }
  if (!me.inbound.empty() || SideLocked(1 - side).closed) {
    settle.CompleteNow(std::move(request.done), Outcome::Ok(true));
    return 0;
  }
  if (must_not_wait) {
    settle.CompleteNow(std::move(request.done), Outcome::Ok(false));
    return 0;
  }
  return me.pollers.Park(request.caller, request.deadline, std::move(request.done), settle);
}

void PipeChannel::Close(int side, bool detach) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  Side& me = SideLocked(side);
  Side& peer = SideLocked(1 - side);
  if (detach) me.end = nullptr;
  if (me.closed) return;
  me.closed = true;
  me.ForEachWaiterList([&](auto& waiters) { waiters.CompleteAll(ClosedOutcome(), settle); });
  // Nobody can receive what was sent to this end any more.
  me.inbound.clear();
  me.account.ReleaseAll();
  // The peer's receivers wait only while nothing is buffered for them, so
  // for them the stream ends here; its pollers learn that a recv would not
  // wait; its senders can never be received.
  peer.receivers.CompleteAll(EofOutcome(), settle);
  peer.pollers.CompleteAll(Outcome::Ok(true), settle);
  peer.senders.CompleteAll(BrokenPipeOutcome(), settle);
}

void PipeChannel::Expire(int side, WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  Side& me = SideLocked(side);
  if (HasWaitIdTag(id, TagOf(side, kReceiverTag))) {
    me.receivers.CompleteExpired(
        id, Outcome::Error(MakeError(ErrorKind::kTimeoutError, "nothing was received in time")),
        settle);
  } else if (HasWaitIdTag(id, TagOf(side, kPollerTag))) {
    me.pollers.CompleteExpired(id, Outcome::Ok(false), settle);
  } else {
    me.senders.CompleteExpired(
        id, Outcome::Error(MakeError(ErrorKind::kTimeoutError, "the pipe stayed full")), settle);
  }
}

void PipeChannel::Cancel(int side, WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  Side& me = SideLocked(side);
  // Ids are unique across the lists: at most one holds id.
  me.ForEachWaiterList([&](auto& waiters) { waiters.Complete(id, WaitCancelled(), settle); });
}

void PipeChannel::EndSession(int side, SessionId session) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  Side& me = SideLocked(side);
  me.ForEachWaiterList(
      [&](auto& waiters) { waiters.CompleteSession(session, SessionEnded(), settle); });
}

std::string PipeChannel::Repr(int side, uint64_t peer_id) const {
  MutexLock lock(&mu_);
  const Side& me = SideLocked(side);
  const char* direction = duplex_ ? "duplex" : Readable(side) ? "read-only" : "write-only";
  std::string out = absl::StrCat("<Connection ", direction, ", peer #", peer_id);
  if (SideLocked(1 - side).closed) absl::StrAppend(&out, " closed");
  if (me.closed) {
    absl::StrAppend(&out, ", closed>");
  } else {
    absl::StrAppend(&out, ", ", me.inbound.size(), me.inbound.size() == 1 ? " message>" : " messages>");
  }
  return out;
}

void PipeChannel::ForEachRef(int side, const std::function<void(const ObjectRef&)>& fn) const {
  MutexLock lock(&mu_);
  const Side& me = SideLocked(side);
  for (const Value& item : me.inbound) item.ForEachRef(fn);
  me.senders.ForEach([&fn](const auto& sender) { sender.payload.item.ForEachRef(fn); });
}

Holdings PipeChannel::Held(int side) const {
  MutexLock lock(&mu_);
  const Side& me = SideLocked(side);
  SessionCounts waiting;
  me.receivers.CountSessions(waiting);
  me.pollers.CountSessions(waiting);
  me.senders.CountSessions(waiting);
  return Holdings{{}, CountPairs(waiting)};
}

absl::StatusOr<ConnectionObject::Ends> ConnectionObject::MakePipe(bool duplex,
                                                                  int64_t buffer_bytes,
                                                                  MemoryBudget* budget,
                                                                  Timers* timers) {
  if (buffer_bytes < 0) {
    return error::ValueError(
        absl::StrCat("a Pipe's buffer must not be negative, not ", buffer_bytes, " bytes"));
  }
  auto channel = std::make_shared<PipeChannel>(
      duplex, buffer_bytes == 0 ? kDefaultPipeBufferBytes : buffer_bytes, budget, timers);
  Ends ends(absl::WrapUnique(new ConnectionObject(channel, 0, true, duplex)),
            absl::WrapUnique(new ConnectionObject(channel, 1, duplex, true)));
  return ends;
}

ConnectionObject::ConnectionObject(std::shared_ptr<PipeChannel> channel, int side, bool readable,
                                   bool writable)
    : Object(Kind::kConnection),
      channel_(std::move(channel)),
      side_(side),
      readable_(readable),
      writable_(writable) {
  channel_->Attach(side_, this);
}

ConnectionObject::~ConnectionObject() { channel_->Close(side_, /*detach=*/true); }

WaitId ConnectionObject::Send(WaitRequest request, Value item) {
  return channel_->Send(side_, std::move(request), std::move(item));
}

WaitId ConnectionObject::Recv(WaitRequest request) {
  return channel_->Recv(side_, std::move(request));
}

WaitId ConnectionObject::Poll(WaitRequest request) {
  return channel_->Poll(side_, std::move(request));
}

void ConnectionObject::Close() { channel_->Close(side_, /*detach=*/false); }

void ConnectionObject::Cancel(WaitId id) { channel_->Cancel(side_, id); }

bool ConnectionObject::Closed() const { return channel_->Closed(side_); }

bool ConnectionObject::PeerClosed() const { return channel_->Closed(1 - side_); }

int64_t ConnectionObject::Pending() const { return channel_->Pending(side_); }

int64_t ConnectionObject::PendingBytes() const { return channel_->PendingBytes(side_); }

int64_t ConnectionObject::NReceivers() const { return channel_->NReceivers(side_); }

int64_t ConnectionObject::NPollers() const { return channel_->NPollers(side_); }

int64_t ConnectionObject::NSenders() const { return channel_->NSenders(side_); }

std::string ConnectionObject::Repr() const {
  return channel_->Repr(side_, peer_id_.load(std::memory_order_relaxed));
}

int64_t ConnectionObject::Size() const { return Pending(); }

void ConnectionObject::ForEachRef(const std::function<void(const ObjectRef&)>& fn) const {
  channel_->ForEachRef(side_, fn);
}

void ConnectionObject::EndSession(SessionId session) { channel_->EndSession(side_, session); }

Holdings ConnectionObject::Held() const { return channel_->Held(side_); }

}  // namespace shoal::server
