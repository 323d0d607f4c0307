// The transport of one session: the session stream on which every call is
// multiplexed by call id, carried by the framed transport or by gRPC's
// Session/Stream (a SessionStream either way). Replies are read by one thread
// at a time, which completes the pending calls they answer, in whatever order
// they come: a caller waiting for its own call (Await) reads when nobody else
// does, so that a blocking call's reply wakes no other thread; the reader
// thread reads when calls nobody waits for (async() calls, releases) are
// pending, or the connection is closing, except that a caller awaiting its
// call reads the replies to releases with its own. Writers take turns under
// a mutex. Released references are queued and sent in batches, inside the
// next call's frame or by a small flusher thread, so that dropping a proxy
// never blocks on the network and never writes from a reader. The flusher
// thread also sends a heartbeat when nothing else has been written for a
// third of the session's lease, so that an idle session, or one whose only
// call waits for minutes, is never taken for a frozen one: the server ends a
// session it has not heard from on its stream for the lease.
//
// A resumable connection (one given a Resumer) numbers its calls 1, 2, 3...
// for the whole session, keeps each call it wrote until its reply arrives,
// and acknowledges the replies it reads (ClientFrame.acks: in the next frame
// written, or by the flusher once many wait). When the stream breaks
// (UNAVAILABLE: the connection failed, or the server went away), the thread
// that saw the break opens a new stream that resumes the session, trying
// again with backoff and jitter until the server's grace has passed since the
// break, while writers wait; it then writes again every call not yet
// answered, under its id, and the server answers each from the replies it
// kept or runs it if it never got it, so that each runs exactly once. A
// resume the server refuses (the session ended, or the server restarted:
// SessionExpired; a wrong key: AuthenticationError) is not tried again.
//
// When the stream breaks for good, every pending call and every later one
// fails with ConnectionError("session lost: ..."), or with the error the
// resume ended with; after Close() they fail with ConnectionError("session
// closed").
//
// A Future waits on its call through a CallTicket (shoal/pipeline.h), whose
// methods are defined with the connection: they flush the outbox that holds
// the call, or Await it, or let go of a call whose reply is in.
//
// After fork(), a connection inherited by the child is orphaned (fork.h):
// it stays its parent's. Each method checks that first and touches nothing
// in the child, where its threads are gone and its mutexes may have been
// held at the fork: nothing is written or read, calls fail with
// ConnectionError, awaiting a call the parent made throws ConnectionError
// (its reply goes to the parent), and the connection is never destroyed
// there (its threads' std::thread objects could not be).
//
// Thread-safe. Owned through shared_ptr: the reader thread and each awaited
// call's CallTicket hold one, so that the connection outlives a Close() that
// runs inside a completion (which happens when a reply's completion drops the
// last owner).
#ifndef SHOAL_CLIENT_SRC_CONNECTION_H_
#define SHOAL_CLIENT_SRC_CONNECTION_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/src/fork.h"
#include "client/src/session_stream.h"
#include "google/protobuf/message_lite.h"
#include "shared/mutex.h"
#include "shared/session_frames.h"
#include "shoal/v1/session.pb.h"

namespace shoal::detail {

// How one call ended: as the server replied, or, when the stream broke or was
// closed first, as the connection decided (code kUnavailable, kind
// "ConnectionError").
struct CallOutcome {
  // The reply's code (a google.rpc.Code, which absl's codes match).
  absl::StatusCode code = absl::StatusCode::kOk;
  // The Python error kind and message when code is not kOk.
  std::string error_kind;
  std::string error_message;
  // The serialized response message when code is kOk.
  std::string response;
};

// Runs exactly once per call: on the thread that reads its reply, or on the
// thread that notices the session is gone. Must not block, and must not throw.
// (Start's completions capture one shared_ptr, which AnyInvocable holds
// without an allocation.)
using CallCompletion = absl::AnyInvocable<void(CallOutcome&)>;

// Owners of the objects a request refers to (ObjectRef::owner). The
// connection holds them until the reply, so that a reference travelling in a
// request cannot be released before the server has taken its own.
using KeepAlive = std::vector<std::shared_ptr<void>>;

// A request message already in its wire form, written by the caller.
struct SerializedRequest {
  std::string bytes;
};

class Outbox;

// Calls in their wire form, each a ClientFrame's field 1, one after the
// other: what a frame carries, built without a message per call. Knows where
// each call ends and its id, so that a run of calls can be cut into frames
// under a size limit, and each call kept for a resume.
//
// Not thread-safe: its owner's mutex guards it.
class EncodedCalls {
 public:
  void Add(uint64_t call_id, absl::string_view method, absl::string_view request) {
    AppendCall(call_id, method, request, &bytes_);
    Ended(call_id);
  }
  // Adds a call already in its wire form (call(i) of another).
  void AddEncoded(uint64_t call_id, absl::string_view call) {
    bytes_.append(call.data(), call.size());
    Ended(call_id);
  }
  // Moves the calls of other after these; other is left empty.
  void TakeFrom(EncodedCalls& other);
  void Swap(EncodedCalls& other) {
    bytes_.swap(other.bytes_);
    ends_.swap(other.ends_);
    ids_.swap(other.ids_);
  }
  void Clear() {
    bytes_.clear();
    ends_.clear();
    ids_.clear();
  }

  size_t count() const { return ids_.size(); }
  const std::string& bytes() const { return bytes_; }
  uint64_t id(size_t i) const { return ids_[i]; }
  absl::string_view call(size_t i) const {
    const size_t begin = i == 0 ? 0 : ends_[i - 1];
    return absl::string_view(bytes_).substr(begin, ends_[i] - begin);
  }
  // Where the first i calls end in bytes().
  size_t end_of(size_t i) const { return i == 0 ? 0 : ends_[i - 1]; }

 private:
  void Ended(uint64_t call_id) {
    ends_.push_back(bytes_.size());
    ids_.push_back(call_id);
  }

  std::string bytes_;
  std::vector<size_t> ends_;
  std::vector<uint64_t> ids_;
};

// The calls sent and not yet answered, by call id, in two sets by who reads
// their replies: the calls a caller awaits (it reads for itself), and the
// others, for which the reader thread reads. Also knows which of them are
// the connection's own Release calls.
//
// Not thread-safe: the Connection's mutex guards it.
class PendingCalls {
 public:
  struct Call {
    CallCompletion done;  // empty for the connection's own Release calls
    KeepAlive keep_alive;
    // Once written, on a resumable connection: the call in its wire form,
    // to write again after a resume.
    std::string written;
  };

  // Adds a call; awaited says whether a caller will read its reply.
  void Add(uint64_t call_id, Call call, bool awaited);
  // Adds one of the connection's own Release calls, which nobody awaits.
  void AddRelease(uint64_t call_id);
  // Takes the call a reply answers; false when none is pending.
  bool Take(uint64_t call_id, Call* call);
  // Takes every call: the session is gone.
  std::vector<Call> TakeAll();
  // Keeps a written call with its pending record, if it is still pending.
  void KeepWritten(uint64_t call_id, absl::string_view call);
  // The written calls still pending, in the order of their ids.
  std::vector<std::pair<uint64_t, const std::string*>> Written() const;

  bool Contains(uint64_t call_id) const {
    return awaited_.contains(call_id) || unawaited_.contains(call_id);
  }
  // Moves a pending call between the two sets; a no-op for a call that is
  // not pending (answered already).
  void SetAwaited(uint64_t call_id, bool awaited);
  // Whether some pending call has no caller to read its reply.
  bool HasUnawaited() const { return !unawaited_.empty(); }
  // Whether some unawaited call is not one of the connection's Releases.
  bool HasUnawaitedBesidesReleases() const { return unawaited_.size() > releases_.size(); }
  // Whether some pending call is awaited: a caller reads for it, or will.
  bool HasAwaited() const { return !awaited_.empty(); }
  // Whether every Release call with an id up to up_to has been answered.
  bool ReleasesAnsweredUpTo(uint64_t up_to) const {
    return releases_.empty() || *releases_.begin() > up_to;
  }

 private:
  absl::flat_hash_map<uint64_t, Call> awaited_;
  absl::flat_hash_map<uint64_t, Call> unawaited_;
  // The ids of the Release calls among unawaited_, in order.
  std::set<uint64_t> releases_;
  // The room of written calls answered, for the next ones kept.
  static constexpr size_t kSpareStrings = 64;
  static constexpr size_t kSpareBytes = 4096;
  std::vector<std::string> spare_;
};

// Opens a new stream that resumes the session, by deadline: what a
// resumable connection reconnects with. An UNAVAILABLE or DEADLINE_EXCEEDED
// status is worth another try; any other (carrying its error kind, see
// shared/error_kind.h) ends the session's calls.
using Resumer = std::function<absl::StatusOr<std::unique_ptr<SessionStream>>(
    std::chrono::system_clock::time_point deadline)>;

// How a connection resumes its session; without resumer, it does not.
struct ResumeOptions {
  Resumer resumer;
  // The server's grace for a broken stream (from login): how long after a
  // break a resume may succeed.
  std::chrono::milliseconds grace{0};
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Takes stream as the session stream and starts the reader and flusher
  // threads. close_timeout bounds how long Close() waits for the server to
  // end the stream. max_message_bytes is the server's limit on one message
  // (from login); a call that would not fit fails alone with LimitError
  // instead of breaking the stream. lease is the session's (from login):
  // the flusher sends a heartbeat whenever nothing was written for
  // HeartbeatInterval(lease); none when it is zero.
  static std::shared_ptr<Connection> Open(std::unique_ptr<SessionStream> stream,
                                          int64_t max_message_bytes,
                                          std::chrono::milliseconds close_timeout,
                                          std::chrono::milliseconds lease,
                                          ResumeOptions resume = {});

  // How long a connection stays silent before it sends a heartbeat: a third
  // of the lease, so that two may be late (a loaded machine, a lost packet
  // resent) before the server takes the session for gone.
  static absl::Duration HeartbeatInterval(std::chrono::milliseconds lease) {
    return absl::FromChrono(lease) / 3;
  }

  // How long a resumable connection goes without a sign of life from the
  // server, while it waits for one, before it takes the connection for dead
  // and resumes the session on a new one: a third of the server's grace, so
  // that the resume has the rest, but at least a second, so that a server
  // that is merely slow for a moment is not taken for gone, and at most
  // five. The framed transport asks the kernel for the same bound
  // (SessionStream::WatchPath) and probes the server itself while a reply
  // is awaited; gRPC pings at the HTTP/2 level (RunHandshake).
  static std::chrono::milliseconds DeadPathTimeout(std::chrono::milliseconds grace) {
    return std::clamp(grace / 3, std::chrono::milliseconds(1000), std::chrono::milliseconds(5000));
  }

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one call: method is the full method path
  // ("/shoal.v1.ListService/Append"), request its request message. done runs
  // once the outcome is known; keep_alive is held until then. Never throws for
  // a lost session: done receives the ConnectionError outcome instead.
  //
  // Without outbox, the call is written before Send returns (with any calls
  // queued before it), and it is awaited: the caller promises to Await it or
  // Disown it, and the reader thread leaves its reply to the caller. With a
  // stream outbox, it is queued for the flusher thread, which writes whatever
  // is queued as one frame; waiting on it writes it at once. With a batch
  // outbox, it is added to the batch and goes out when the batch is flushed
  // (or fills up). Calls are written in the order they were sent, except that
  // a batch's go out when it is flushed.
  //
  // Returns the call's id, or 0 when done has run already.
  uint64_t Send(absl::string_view method, const google::protobuf::MessageLite& request,
                KeepAlive keep_alive, CallCompletion done, Outbox* outbox)
      ABSL_LOCKS_EXCLUDED(mu_, write_mu_);
  // The same with the request in its wire form.
  uint64_t Send(absl::string_view method, SerializedRequest request, KeepAlive keep_alive,
                CallCompletion done, Outbox* outbox) ABSL_LOCKS_EXCLUDED(mu_, write_mu_);

  // Waits until an awaited call has been answered (or the session is gone),
  // reading replies itself while no other thread reads. When another thread
  // read the reply, its completion may still be running.
  void Await(uint64_t call_id) ABSL_LOCKS_EXCLUDED(mu_, write_mu_);
  // Leaves an awaited call's reply to the reader thread after all.
  void Disown(uint64_t call_id) ABSL_LOCKS_EXCLUDED(mu_);

  // Queues the release of one reference the session holds. Cheap and
  // non-blocking; safe from any thread, the reader thread included, and a
  // no-op once the session is gone (the server has dropped everything then).
  void QueueRelease(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_);

  // Sends the queued releases now and waits until the server has answered
  // every release sent so far, or the session is gone. After it returns, the
  // server's reference counts reflect every handle this process dropped
  // before the call. Releases queued later, by other threads, are not waited
  // for, so steady churn elsewhere cannot hold it up.
  void SettleReleases() ABSL_LOCKS_EXCLUDED(mu_, write_mu_);

  // Writes the calls queued so far, if another thread is not writing them.
  void WriteQueued() ABSL_LOCKS_EXCLUDED(write_mu_, mu_);

  // Ends the session: a last frame that closes it, then the end of the
  // writing side, then, once the server has ended the stream, the threads.
  // Pending calls fail with ConnectionError("session closed"). Idempotent;
  // safe from any thread, including a reader inside a completion.
  void Close() ABSL_LOCKS_EXCLUDED(mu_, write_mu_);

  // How the stream ended, once it has (the reader has seen its end): the
  // status of Finish(). OK while the stream is open.
  absl::Status end_status() const ABSL_LOCKS_EXCLUDED(mu_);

  // Whether this process inherited the connection through fork(): then it
  // is its parent's, and nothing here touches it.
  bool orphaned() const { return InheritedHere(born_); }

 private:
  friend class Outbox;

  Connection(std::unique_ptr<SessionStream> stream, int64_t max_message_bytes,
             std::chrono::milliseconds close_timeout, std::chrono::milliseconds lease,
             ResumeOptions resume);

  // After a break with status: resumes the session on a new stream and
  // writes the unanswered calls again; false when it cannot (end_status_
  // then says why). The reader's, with the reader's role and no lock held.
  bool Resume(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_, write_mu_);
  // Resume's work, while resuming_ keeps the flusher off the path.
  bool ResumeOnNewStream(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_, write_mu_);
  // Moves the acknowledgements waiting to the end of acks.
  void TakeAcksLocked(std::vector<uint64_t>* acks) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool resumable() const { return resume_.resumer != nullptr; }

  void ReadLoop() ABSL_LOCKS_EXCLUDED(mu_);
  // Takes the reader's role, reads one frame and completes what it answers
  // (or, at the end of the stream, everything), and gives the role back.
  // Called with mu_ held and nobody reading; mu_ is released meanwhile.
  void ReadFrameLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The end of the stream: its status, and every pending call failed.
  void EndOfStream() ABSL_LOCKS_EXCLUDED(mu_, write_mu_);
  bool ReaderThreadMustRead() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return broken_ || (!reading_ && (closing_ || ReaderThreadHasReplies()));
  }
  // Whether replies are due that no caller will read: those of unawaited
  // calls. The replies to Release calls, which nobody waits for but
  // SettleReleases, are left to a caller that awaits a call while one does:
  // in Await it reads on until its own reply is in, and takes theirs with it
  // (the server answers the calls of one frame in one write), so that a
  // Release riding with a blocking call wakes no other thread. A call is
  // awaited by a caller that blocks in Await once it has sent it: the
  // blocking methods at once, a Pool's submission once it has sent the rest
  // of its messages. Until then those replies wait, unless SettleReleases
  // waits for them.
  bool ReaderThreadHasReplies() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return pending_.HasUnawaited() && (!pending_.HasAwaited() ||
                                       pending_.HasUnawaitedBesidesReleases() || settling_ > 0);
  }
  // Whether this thread reads now (and so runs the completions).
  bool ReadingHereLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return reading_ && reading_thread_ == std::this_thread::get_id();
  }
  void FlushLoop() ABSL_LOCKS_EXCLUDED(mu_, write_mu_);
  // What the flusher does about the path to the server, now.
  enum class PathCheck { kFine, kProbe, kDead };
  // While a reader waits and nothing has arrived for half of dead_path_, a
  // probe (an empty Release call, which the server answers) is queued
  // (kProbe: to be written); when nothing has arrived for dead_path_ since
  // the probe, the stream is broken off as dead (kDead), and the reader
  // resumes the session.
  PathCheck CheckPathLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes a heartbeat frame, unless a frame went out within the interval
  // (another writer got there first).
  void WriteHeartbeat() ABSL_LOCKS_EXCLUDED(mu_, write_mu_);
  // When the last frame was written.
  absl::Time LastWrite() const {
    return absl::FromUnixNanos(last_write_ns_.load(std::memory_order_relaxed));
  }
  // Joins the flusher, then writes the frame that ends the session and ends
  // the writing side. May wait on the stream's flow control.
  void EndWriting() ABSL_LOCKS_EXCLUDED(mu_, write_mu_);
  // Completes every pending call with the session-gone outcome.
  void FailAllPending() ABSL_LOCKS_EXCLUDED(mu_);
  // Writes the queued calls and the queued releases, then the calls of
  // more (a batch's, emptied), in frames under the size limit.
  void WriteCalls(EncodedCalls* more) ABSL_LOCKS_EXCLUDED(write_mu_, mu_);
  // Writes acks and then calls in frames under the size limit, the acks in
  // the first. With ack_as_written, a resumable connection acknowledges the
  // replies read meanwhile in each next frame. With beat, a frame goes even
  // with nothing in it: a heartbeat.
  void WriteInFrames(const EncodedCalls& calls, std::vector<uint64_t>& acks, bool ack_as_written,
                     bool beat)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // Puts acknowledgements that did not go out back before those waiting,
  // for the next frame (on a resumed stream, its first).
  void RequeueAcks(std::vector<uint64_t>& acks) ABSL_LOCKS_EXCLUDED(mu_);
  // Writes one frame, its serialized ClientFrame body; false when the
  // stream is closed for writing.
  bool WriteFrameLocked(absl::string_view body) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // The largest frame to write: under the server's message limit.
  int64_t FrameLimit() const;
  // Moves queued releases into Release calls in calls and registers them.
  void TakeReleasesLocked(EncodedCalls* calls) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Why calls fail now: "session closed" or "session lost: ...".
  std::string GoneReasonLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  bool FlusherHasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closing_ || broken_ || !release_queue_.empty() || flusher_has_calls_ || AcksDue();
  }
  bool FlusherMustHurry() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closing_ || broken_ || flusher_has_calls_ || AcksDue();
  }
  // Queued calls stop lingering: enough of them wait, or another thread
  // wrote them.
  bool CallsMustGo() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Enough acknowledgements wait to send them by themselves.
  bool AcksDue() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether every Release call with a call id up to up_to has been answered.
  bool ReleasesAnsweredUpTo(uint64_t up_to) const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return closing_ || broken_ || pending_.ReleasesAnsweredUpTo(up_to);
  }

  // Holds mu_ for its scope, and on release wakes the reader or flusher
  // thread if what it waits for now holds (NudgeLocked): every section that
  // changes what they wait for is one of these.
  class ABSL_SCOPED_LOCKABLE Locked {
   public:
    explicit Locked(Connection* connection) ABSL_EXCLUSIVE_LOCK_FUNCTION(connection->mu_)
        : connection_(connection) {
      connection_->mu_.Lock();
    }
    ~Locked() ABSL_UNLOCK_FUNCTION() {
      connection_->mu_.AssertHeld();
      connection_->NudgeLocked();
      connection_->mu_.Unlock();
    }
    Locked(const Locked&) = delete;
    Locked& operator=(const Locked&) = delete;

   private:
    Connection* const connection_;
  };
  // The reader and the flusher threads wait on condition variables, not on
  // conditions of mu_: a thread parked on mu_ makes every release of it take
  // Abseil's slow path, which evaluates the conditions of the waiters. This
  // wakes each of them whose wait is over; called before mu_ is released by
  // any section that may have changed what they wait for.
  void NudgeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reader_parked_ && ReaderThreadMustRead()) reader_cv_.Signal();
    if (flusher_awaits_ != nullptr && (this->*flusher_awaits_)()) flusher_cv_.Signal();
  }
  // The flusher's wait, until (this->*until)() holds or deadline passes;
  // whether it holds.
  bool FlusherWait(bool (Connection::*until)() const, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The fork generation of the process that opened the connection.
  const uint64_t born_ = ForkGeneration();
  const int64_t max_message_bytes_;
  const std::chrono::milliseconds close_timeout_;
  // Zero: no heartbeats.
  const absl::Duration heartbeat_every_;
  // When a frame was last written (Unix nanoseconds), by any writer.
  std::atomic<int64_t> last_write_ns_;
  // A frame is being written (under write_mu_).
  std::atomic<bool> writing_frame_{false};

  const ResumeOptions resume_;
  // Zero for a connection that does not resume: it is not watched.
  const std::chrono::milliseconds dead_path_;

  // The stream; replaced by a resume, which holds the reader's role,
  // write_mu_ and, for the swap itself, mu_. Reads happen in the reader's
  // role (reading_); writes under write_mu_; the flusher's path checks
  // under mu_.
  std::unique_ptr<SessionStream> stream_;
  // The frame being read, and the calls its replies answer; the reader's.
  ServerFrameView in_;
  std::vector<std::pair<const ReplyView*, PendingCalls::Call>> taken_;

  // Held while a frame is taken from queued_ and written, so that frames go
  // out in the order their calls were queued.
  Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  bool writes_done_ ABSL_GUARDED_BY(write_mu_) = false;
  // The writer's: the calls being written, their acknowledgements, and a
  // frame's body when it is more than the calls.
  EncodedCalls writing_ ABSL_GUARDED_BY(write_mu_);
  std::vector<uint64_t> writing_acks_ ABSL_GUARDED_BY(write_mu_);
  std::string body_ ABSL_GUARDED_BY(write_mu_);

  mutable Mutex mu_;
  // Calls sent and not yet written, in order, and their size.
  EncodedCalls queued_ ABSL_GUARDED_BY(mu_);
  int64_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Whether queued_ holds calls left to the flusher (async() calls). A
  // blocking call writes what is queued itself, without waking the flusher.
  bool flusher_has_calls_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_call_id_ ABSL_GUARDED_BY(mu_) = 1;
  PendingCalls pending_ ABSL_GUARDED_BY(mu_);
  // A thread holds the reader's role, and which.
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  std::thread::id reading_thread_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> release_queue_ ABSL_GUARDED_BY(mu_);
  // Close() has begun; new calls fail.
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  // Close() was called: a resume in progress gives up (Close waits for it).
  bool close_wanted_ ABSL_GUARDED_BY(mu_) = false;
  // The stream has ended; new calls fail.
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status end_status_ ABSL_GUARDED_BY(mu_);
  // The error kind calls fail with once the stream has ended for good:
  // ConnectionError, or what ended a resume (SessionExpired...).
  std::string gone_kind_ ABSL_GUARDED_BY(mu_) = "ConnectionError";
  // The replies read and not yet acknowledged (resumable only).
  std::vector<uint64_t> acks_ ABSL_GUARDED_BY(mu_);
  // When the read in progress began (see reading_).
  absl::Time read_began_ ABSL_GUARDED_BY(mu_);
  // When the last probe of the path went out, if nothing arrived since.
  absl::Time probe_sent_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // A resume is under way: the path is not watched meanwhile.
  bool resuming_ ABSL_GUARDED_BY(mu_) = false;
  // The flusher broke the stream off as dead: its end is UNAVAILABLE.
  bool path_dead_ ABSL_GUARDED_BY(mu_) = false;

  // Where the reader and flusher threads wait (see NudgeLocked): whether
  // the reader is parked, and what the flusher waits for (null when it
  // does not wait).
  CondVar reader_cv_;
  CondVar flusher_cv_;
  bool reader_parked_ ABSL_GUARDED_BY(mu_) = false;
  // Threads in SettleReleases, which wait for replies to Release calls.
  int settling_ ABSL_GUARDED_BY(mu_) = 0;
  bool (Connection::*flusher_awaits_)() const ABSL_GUARDED_BY(mu_) = nullptr;

  // Notified by the reader that saw the stream end, once every pending call
  // has been failed.
  Notification stream_ended_;

  // Started in Open and stopped in Close, which runs once.
  std::thread reader_;
  std::thread flusher_;
};

// Where pipelined calls go. A batch outbox gathers calls to go out together,
// in one frame: what a shoal::Batch stands for. Connection::Send adds calls;
// Flush writes them, in the order they were added, after any calls queued on
// the connection. The frame is written by itself before it would pass the
// frame size limit (1 MiB, or the server's message limit).
//
// The stream outbox of a session (stream = true) gathers nothing: calls sent
// to it are queued on the connection for its flusher thread, and Flush
// writes whatever is queued there.
//
// Thread-safe. Holds the connection, and keep_open (the session), open.
class Outbox {
 public:
  Outbox(std::shared_ptr<Connection> connection, std::shared_ptr<void> keep_open,
         bool stream = false);
  // A batch sends what it still holds (unless the parent made it, before
  // fork()).
  ~Outbox() {
    if (!stream_) Flush();
  }
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Writes the gathered calls, if any.
  void Flush() ABSL_LOCKS_EXCLUDED(mu_);
  // How many calls are gathered.
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);
  // Whether the outbox belongs to a connection this process inherited.
  bool orphaned() const { return connection_->orphaned(); }

 private:
  friend class Connection;
  // Adds one call, of bytes bytes, writing the frame first when it would
  // grow past the limit.
  void Add(uint64_t call_id, absl::string_view method, absl::string_view request, int64_t bytes)
      ABSL_LOCKS_EXCLUDED(mu_);
  void FlushLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<Connection> connection_;
  const std::shared_ptr<void> keep_open_;
  const bool stream_;
  const int64_t limit_;

  // Held while writing, so that frames go out in the order they were filled.
  mutable Mutex mu_;  // before Connection::write_mu_
  EncodedCalls frame_ ABSL_GUARDED_BY(mu_);
  int64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_CONNECTION_H_
