// ConnectionObject is one end of a shared Pipe, Python's
// multiprocessing.connection.Connection: MakePipe makes the two ends
// together, around one channel they share. What one end sends, the other
// receives, in the order it was sent. A duplex pipe sends both ways; a one-way
// pipe's first end only receives and its second only sends, as Python's
// Pipe(duplex=False).
//
// No thread waits: a Recv with nothing to receive parks a receiver, a Poll
// parks a poller, and a Send to a full direction parks a sender with its
// message; each returns its WaitId. A Send hands its message straight to the
// oldest parked receiver of the other end, or buffers it there (waking that
// end's pollers); a Recv that makes room admits the other end's oldest parked
// senders' messages. A deadline is a timer that completes its waiter with
// TimeoutError (receiver, sender) or False (poller); Cancel and EndSession
// complete a waiter with CancelledError.
//
// Each direction holds at most buffer_bytes of messages (as ApproxBytes
// counts them), except that a message larger than that is taken alone into an
// empty buffer, so that every message can go through. Buffered messages are
// charged to the MemoryBudget when they enter the buffer; a Send that does not
// fit fails with LimitError and changes nothing (a parked sender's message is
// charged when it is admitted, as a Queue's parked putter's item). A message
// handed straight to a receiver is never held, so it is not charged.
//
// Closing. An end is closed by Close, or when it is destroyed (the registry
// frees it once nothing refers to it). A closed end refuses every call with
// OSError, and its own parked calls fail with OSError; what was buffered for
// it is dropped. Its peer still receives everything already sent to it, then
// EOFError; the peer's pollers answer True (a recv would not wait), and the
// peer's sends fail with OSError, as Python's do with BrokenPipeError. Calls
// in the wrong direction fail with OSError before anything else is checked
// but closing, as Python's _check_closed, _check_readable, _check_writable.
//
// A message is never lost or delivered twice: who receives it is decided
// under the channel's mutex, a receiver that timed out, was cancelled or whose
// session ended is removed in the same step that completes it, and so takes
// nothing; a sender completed that way never adds its message.
//
// Thread-safety: every public method is safe to call from any thread. Both
// ends' state, their buffers and their parked waiters (WaiterLists, see
// waiter_list.h) are under the one mutex of the channel they share, so that a
// send and the other end's recv or close are decided in one step; completions
// run after that mutex is released, and nothing touches the channel once they
// start, so a completion may call back into either end or drop the last
// reference to it.
#ifndef SHOAL_SERVER_OBJECTS_CONNECTION_OBJECT_H_
#define SHOAL_SERVER_OBJECTS_CONNECTION_OBJECT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "server/objects/memory_budget.h"
#include "server/objects/object.h"
#include "server/objects/waiting.h"
#include "shoal/value.h"

namespace shoal::server {

// How many bytes of messages one direction of a Pipe holds by default before
// a send waits: what a Linux pipe buffers.
inline constexpr int64_t kDefaultPipeBufferBytes = 64 * 1024;

// The state both ends of one Pipe share (connection_object.cc).
class PipeChannel;

class ConnectionObject : public Object {
 public:
  using Ends = std::pair<std::unique_ptr<ConnectionObject>, std::unique_ptr<ConnectionObject>>;

  // The two ends of Pipe(duplex). buffer_bytes is how much each direction
  // holds before a send waits: 0 for kDefaultPipeBufferBytes, ValueError when
  // negative. budget (null: unlimited) and timers must outlive both ends.
  static absl::StatusOr<Ends> MakePipe(bool duplex, int64_t buffer_bytes, MemoryBudget* budget,
                                       Timers* timers);
  // Closes this end (see Close), so that no call is left without an answer.
  ~ConnectionObject() override;

  // conn.send(item): completes with None once the item is buffered for the
  // other end or handed to a receiver parked there; with OSError when this
  // end is closed or read-only, or the other end is closed; with TimeoutError
  // when the buffer is full and the deadline has passed (at once when it
  // already has); with LimitError when the item does not fit the memory
  // budget. Returns 0 when it completed at once.
  WaitId Send(WaitRequest request, Value item);
  // conn.recv(): completes with the oldest message sent by the other end;
  // with EOFError when there is none and the other end is closed; with
  // OSError when this end is closed or write-only; with TimeoutError when
  // there is none and the deadline has passed. Returns 0 when it completed at
  // once.
  WaitId Recv(WaitRequest request);
  // conn.poll(timeout): completes with True once a message waits here or the
  // other end is closed, with False when the deadline passes first (at once
  // when it already has), with OSError when this end is closed or
  // write-only. Returns 0 when it completed at once.
  WaitId Poll(WaitRequest request);
  // conn.close(): closes this end for good; a no-op when it is closed.
  void Close();
  // Completes the parked waiter id (receiver, poller or sender) with
  // CancelledError; a no-op when it was completed already. A cancelled
  // sender's message is dropped.
  void Cancel(WaitId id);

  // conn.closed
  bool Closed() const;
  // Whether the other end is closed.
  bool PeerClosed() const;
  // conn.readable, conn.writable: fixed when the pipe is made.
  bool Readable() const { return readable_; }
  bool Writable() const { return writable_; }
  // Messages buffered for this end to receive.
  int64_t Pending() const;
  // Bytes buffered for this end (as ApproxBytes counts them).
  int64_t PendingBytes() const;
  // Parked waiters of this end: receivers, pollers, and senders waiting for
  // room at the other end.
  int64_t NReceivers() const;
  int64_t NPollers() const;
  int64_t NSenders() const;

  // The registry's id of the other end, for Repr; 0 until set.
  void SetPeerId(uint64_t id) { peer_id_.store(id, std::memory_order_relaxed); }

  // Object:
  // <Connection duplex, peer #8, 2 messages>; read-only or write-only for a
  // one-way pipe's ends; "peer #8 closed" once the other end is; "closed"
  // instead of the count once this end is.
  std::string Repr() const override;
  int64_t Size() const override;  // Pending()
  // Visits the messages buffered for this end and the items of this end's
  // parked senders. Calls fn under the channel's mutex: fn must not call
  // back into either end.
  void ForEachRef(const std::function<void(const ObjectRef&)>& fn) const override;
  // Completes the session's parked receivers, pollers and senders on this
  // end with CancelledError; its senders' messages are dropped.
  void EndSession(SessionId session) override;
  // Nobody holds an end; the parked receivers, pollers and senders of each
  // session, counted together.
  Holdings Held() const override;

 private:
  ConnectionObject(std::shared_ptr<PipeChannel> channel, int side, bool readable, bool writable);

  const std::shared_ptr<PipeChannel> channel_;
  // 0 for the first end, 1 for the second.
  const int side_;
  const bool readable_;
  const bool writable_;
  std::atomic<uint64_t> peer_id_{0};
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_CONNECTION_OBJECT_H_
