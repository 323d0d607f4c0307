// The session core: one session stream's life, whatever carries it (gRPC's
// Session/Stream or the framed transport). It authenticates the stream and
// attaches it to its session, dispatches the calls of each frame, keeps the
// calls in flight with what cancels them, batches their replies for the
// transport, and decides when and how the stream ends.
//
// A transport is an adapter with two sides. As a frame source it hands the
// core what it reads: Attach (or Fail) first, then each ClientFrame
// (OnFrame), the end of reading (OnInputEnd), or that the stream is gone
// (Break). As a frame sink (FrameSink) it writes what the core gives it: a
// batch of replies, and at the end the stream's status.
//
// Each frame read is a sign of the client's life (Heard): a session whose
// client is not heard from for its lease ends, and the core then ends the
// stream with ConnectionError, saying so (Fail).
//
// The stream's life is one StreamState. The session's calls are kept in its
// CallLedger (server/core/call_ledger.h), which outlives the stream: a call
// that parks stays in flight until its completion answers it, and the ledger
// hands the reply to the stream the call arrived on. A Cancel in a frame
// cancels one parked call, and a server shutting down (End) cancels all the
// stream's. A broken stream (or, on the framed transport, the end of its
// input) cancels its parked calls only for a session that cannot be
// resumed; a resumable session's stay parked for the connection that
// resumes it, and the ledger keeps their replies and the others until the
// client acknowledges them (ClientFrame.acks), so that a call sent again
// after a resume is answered from there and never runs twice. The core ends
// the stream only once no call it awaits is in flight, except on Fail.
//
// A frame's calls are taken together: they are recorded as awaited, and
// looked up in the ledger, under one acquisition of each mutex, and the
// calls that complete while the frame is dispatched (on the dispatching
// thread) reach the ledger and the stream together once the frame's calls
// have run. A session's frames are dispatched one at a time, even across
// its streams.
//
// Thread-safe: the source's calls come from the transport's reading thread,
// completions from any thread. The core calls the sink with its mutex held.
// A completion may run after the stream has ended, on any thread: it holds
// the session's ledger, not the transport. The transport calls Detach before
// it goes, and Detach takes the stream from the ledger under the ledger's
// mutex, which every delivery to the stream holds: no reply reaches a
// transport that has gone.
#ifndef SHOAL_SERVER_TRANSPORT_SESSION_CORE_H_
#define SHOAL_SERVER_TRANSPORT_SESSION_CORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "server/core/call_ledger.h"
#include "server/core/core.h"
#include "server/transport/dispatch.h"
#include "shared/mutex.h"
#include "shared/session_frames.h"
#include "shoal/v1/session.pb.h"

namespace shoal::server {

// Where a session stream is in its life.
enum class StreamState {
  // Frames are read and their calls dispatched.
  kOpen,
  // The client writes no more: the calls in flight are answered (or, when
  // the transport says so, cancelled), then the stream ends OK.
  kDraining,
  // The server is shutting down: parked calls are cancelled and answered with
  // ConnectionError (UNAVAILABLE), and the stream ends with it once every
  // call is answered.
  kEnding,
  // The stream's last status is with the sink; replies are dropped.
  kFinished,
  // The stream is gone: parked calls are cancelled and replies dropped until
  // every call is answered.
  kBroken,
  // Broken, and every call answered: nothing more happens.
  kClosed,
};

// The transport's writing side. Its methods are called with the core's
// mutex held: they must not block, nor call back into the core.
class FrameSink {
 public:
  virtual ~FrameSink() = default;

  // Writes a frame of replies: the serialized ServerFrame's body, its
  // replies (the sink may take the string). Returns true when the sink
  // takes the next batch at once, false when this write is in flight and
  // the transport will call SessionCore::OnWriteDone.
  virtual bool WriteLocked(std::string& replies) = 0;
  // The stream ends with status (OK, or what the client is told), after the
  // replies written so far. Called at most once, and never after a break.
  virtual void FinishLocked(const absl::Status& status) = 0;
  // The stream broke and every call is answered: nothing more will come.
  virtual void ClosedLocked() {}
};

class SessionCore : private ReplySink {
 public:
  // What the end of reading means to the transport.
  enum class InputEnd {
    // The client may still wait for replies: calls in flight are answered.
    kAnswerCalls,
    // The client is gone or closing: parked calls are cancelled.
    kCancelParked,
  };

  SessionCore(Core& core, const Dispatcher& dispatcher, FrameSink& sink, InputEnd input_end)
      : core_(core), dispatcher_(dispatcher), sink_(sink), input_end_(input_end) {}
  SessionCore(const SessionCore&) = delete;
  SessionCore& operator=(const SessionCore&) = delete;
  ~SessionCore() override;

  // The frame source. Attach, or Fail, comes first; then frames.

  // Authenticates token and attaches the stream to its session (so that the
  // session does not expire while the stream is open and its client is
  // heard from). False when the token is refused or the session has ended:
  // the stream has then finished, with the reason.
  bool Attach(absl::string_view token) ABSL_LOCKS_EXCLUDED(mu_);
  // Ends the stream at once with status, for a client at fault (or a stream
  // refused before Attach): later replies are dropped, and parked calls
  // cancelled unless the session can be resumed.
  void Fail(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);
  // Takes the frame's acknowledgements, then dispatches its calls, then its
  // cancels, then its close. The frame is a sign of life, whatever it
  // carries (a heartbeat carries nothing else).
  void OnFrame(const ClientFrameView& frame) ABSL_LOCKS_EXCLUDED(mu_);
  // The client was heard from: bytes of a frame arrived. Reading thread,
  // after Attach.
  void Heard();
  // The client has stopped writing.
  void OnInputEnd() ABSL_LOCKS_EXCLUDED(mu_);
  // The stream is gone (cancelled, or the socket failed).
  void Break() ABSL_LOCKS_EXCLUDED(mu_);
  // While replies are held, they wait in the core and the stream does not
  // end: a transport dispatching what it read holds them, so the replies
  // ready by then go out in one write when it releases them.
  void HoldReplies() ABSL_LOCKS_EXCLUDED(mu_);
  // Returns the stream's state once the replies have gone: state()'s
  // answer, without taking the mutex again.
  StreamState ReleaseReplies() ABSL_LOCKS_EXCLUDED(mu_);

  // The sink's report on a write that WriteLocked left in flight.
  void OnWriteDone(bool ok) ABSL_LOCKS_EXCLUDED(mu_);

  // For a server shutting down: cancels the parked calls, and ends the
  // stream (kEnding) once every call is answered.
  void End() ABSL_LOCKS_EXCLUDED(mu_);
  // The transport is done with the stream: detaches it from its session,
  // whose grace starts now. Idempotent. Waits for the session's end of the
  // stream (Fail) if that runs now, on another thread.
  void Detach() ABSL_LOCKS_EXCLUDED(mu_);

  StreamState state() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Cancels = CallLedger::Cancels;
  class Control;
  class Route;

  // Moves a live stream to state (kBroken or kEnding), with the parked calls
  // that go (see the class comment), and ends the stream if no call it
  // awaits is in flight.
  void Leave(StreamState state) ABSL_LOCKS_EXCLUDED(mu_);
  // Takes a frame's acknowledgements, then dispatches its calls, in order.
  void DispatchAll(absl::Span<const uint64_t> acks, absl::Span<const CallView> calls)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Runs a call the ledger found new.
  void Run(const CallView& call) ABSL_LOCKS_EXCLUDED(mu_);
  void SetCancel(uint64_t call_id, absl::AnyInvocable<void()> cancel) ABSL_LOCKS_EXCLUDED(mu_);
  void CancelCall(uint64_t call_id) ABSL_LOCKS_EXCLUDED(mu_);
  // The parked calls of this stream that end with it: all of them when the
  // server shuts down (all), else only for a session that cannot be resumed.
  Cancels CancelsOfStream(bool all) ABSL_LOCKS_EXCLUDED(mu_);

  // ReplySink: called by the ledger, with its mutex held; they take mu_
  // (the ledger's mutex comes first, and the core never calls the ledger
  // with mu_ held).
  void Deliver(uint64_t call_id, const absl::Status& status, const std::string& response) override
      ABSL_LOCKS_EXCLUDED(mu_);
  void DeliverAll(absl::Span<const Delivery> replies) override ABSL_LOCKS_EXCLUDED(mu_);
  void Overflowed(const absl::Status& why) override ABSL_LOCKS_EXCLUDED(mu_);
  void Moved(uint64_t call_id) override ABSL_LOCKS_EXCLUDED(mu_);

  // Whether replies still go to the sink.
  bool TakesRepliesLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a call that parks now is cancelled at once.
  bool CancelsParkedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void QueueReplyLocked(uint64_t call_id, const absl::Status& status, absl::string_view response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One call awaited the less.
  void UnawaitLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A call's reply, delivered: no longer awaited, and queued.
  void TakeReplyLocked(uint64_t call_id, const absl::Status& status, absl::string_view response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands the queued replies to the sink, when it takes them.
  void FlushLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the stream if its state and the calls in flight allow it.
  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves to state, when the stream is still live; false when it was not.
  bool LeaveLocked(StreamState state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void RunAll(Cancels& cancels);

  Core& core_;
  const Dispatcher& dispatcher_;
  FrameSink& sink_;
  const InputEnd input_end_;
  // Set by Attach, before any frame is dispatched.
  SessionId session_ = 0;
  // Where the stream records its client's signs of life, for its session;
  // set by Attach.
  std::shared_ptr<StreamLink> link_;
  // The session's calls, and this stream's number there; set by Attach.
  std::shared_ptr<CallLedger> ledger_;
  uint64_t stream_ = 0;
  // What this stream's calls' completions share; set by Attach, with the
  // stream's own count of it.
  Route* route_ = nullptr;
  // The method of the last call run. Run alone touches it, and a stream's
  // frames are dispatched one at a time.
  const Method* last_method_ = nullptr;

  mutable Mutex mu_;
  StreamState state_ ABSL_GUARDED_BY(mu_) = StreamState::kOpen;
  // How many calls this stream awaits the replies of: each call the ledger
  // routes here (found new, or in flight after a resume) until its reply is
  // delivered or the call is routed to another stream (Moved). The ledger
  // routes a call to one stream at a time and delivers its reply once, so
  // a count is enough; a count, not a set of call ids, saves a pipelined
  // call two hash-table operations.
  size_t awaiting_ ABSL_GUARDED_BY(mu_) = 0;
  // Replies not yet handed to the sink, serialized (ServerFrame.replies).
  std::string queued_ ABSL_GUARDED_BY(mu_);
  // A write is in flight: the sink takes nothing until OnWriteDone.
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // Between HoldReplies and ReleaseReplies.
  bool holding_ ABSL_GUARDED_BY(mu_) = false;
  bool attached_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_SESSION_CORE_H_
