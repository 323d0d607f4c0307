#include "server/transport/session_core.h"

#include <atomic>
#include <cassert>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/transport/stream_errors.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

// The calls of a session completed on the thread that dispatches a frame of
// its calls, while it does (a call that completes at once, or a parked one
// that a later call of the frame wakes): CallLedger::CompleteAll takes them
// once the frame's calls have run. Completions on other threads, or of other
// sessions, go to their ledger at once.
struct FrameCompletions {
  const CallLedger* ledger;
  absl::InlinedVector<CallLedger::Completion, 4> done;
};
thread_local FrameCompletions* t_completions = nullptr;

// How the stream, and each call it still had parked, ends when the server
// shuts down: the client lost its server, it did not cancel anything.
absl::Status ShuttingDown() {
  return MakeError(ErrorKind::kConnectionError, "the server is shutting down");
}

}  // namespace

// What the completions of a stream's calls share: the session's ledger and
// the server's reply limit, counted by the completions and the stream, so
// that a completion captures one pointer and its call id (which fit in
// ReplyFn without an allocation) and costs one count, not two. A completion
// may outlive the stream: it holds the ledger, never the transport (the
// stream detaches from the ledger before the transport goes).
class SessionCore::Route {
 public:
  Route(int64_t limit, std::shared_ptr<CallLedger> ledger)
      : limit_(limit), ledger_(std::move(ledger)) {}
  Route(const Route&) = delete;
  Route& operator=(const Route&) = delete;

  // One count of a route, for a completion.
  class Ref {
   public:
    explicit Ref(Route* route) : route_(route) {
      route_->refs_.fetch_add(1, std::memory_order_relaxed);
    }
    Ref(Ref&& other) noexcept : route_(std::exchange(other.route_, nullptr)) {}
    Ref& operator=(Ref&&) = delete;
    ~Ref() {
      if (route_ != nullptr) route_->Unref();
    }
    const Route* operator->() const { return route_; }

   private:
    Route* route_;
  };

  // Drops a count; the last frees the route.
  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  int64_t limit() const { return limit_; }
  CallLedger* ledger() const { return ledger_.get(); }

 private:
  ~Route() = default;

  // The stream's count, and one per completion not yet destroyed.
  std::atomic<uint32_t> refs_{1};
  const int64_t limit_;
  const std::shared_ptr<CallLedger> ledger_;
};

SessionCore::~SessionCore() {
  {
    // What keeps replies from a transport that has gone: it detached first.
    MutexLock lock(&mu_);
    assert(!attached_ && "a transport let its SessionCore go without Detach");
  }
  if (route_ != nullptr) route_->Unref();
}

// The CallControl of one call.
class SessionCore::Control : public CallControl {
 public:
  Control(SessionCore& session, uint64_t call_id) : session_(session), call_id_(call_id) {}
  void SetCancel(absl::AnyInvocable<void()> cancel) override {
    session_.SetCancel(call_id_, std::move(cancel));
  }

 private:
  SessionCore& session_;
  const uint64_t call_id_;
};

bool SessionCore::Attach(absl::string_view token) {
  const absl::Time now = absl::Now();
  absl::StatusOr<SessionId> session = core_.sessions().Authenticate(std::string(token), now);
  if (!session.ok()) {
    Fail(session.status());
    return false;
  }
  // The session ends the stream, from the housekeeping thread, when its
  // client has not been heard from for the lease; Detach cuts the link
  // before the transport goes.
  auto link = std::make_shared<StreamLink>(now, [this](const absl::Status& why) { Fail(why); });
  std::shared_ptr<CallLedger> ledger = core_.sessions().Ledger(*session);
  if (ledger == nullptr || !core_.sessions().AttachStream(*session, link)) {
    Fail(MakeError(ErrorKind::kAuthenticationError, "session ended"));
    return false;
  }
  session_ = *session;
  link_ = std::move(link);
  ledger_ = std::move(ledger);
  route_ = new Route(core_.options().max_message_bytes, ledger_);
  stream_ = ledger_->Attach(this);
  MutexLock lock(&mu_);
  attached_ = true;
  return true;
}

void SessionCore::Heard() {
  if (link_ != nullptr) link_->Heard(absl::Now());
}

void SessionCore::Detach() {
  {
    MutexLock lock(&mu_);
    if (!attached_) return;
    attached_ = false;
  }
  Cancels cancels = ledger_->Detach(stream_);
  RunAll(cancels);
  link_->Detach();
  core_.sessions().DetachStream(session_, link_.get(), absl::Now());
}

SessionCore::Cancels SessionCore::CancelsOfStream(bool all) {
  if (ledger_ == nullptr || (!all && ledger_->keeps_replies())) return Cancels();
  return ledger_->TakeCancelsOf(stream_);
}

void SessionCore::Fail(const absl::Status& status) {
  {
    MutexLock lock(&mu_);
    if (!LeaveLocked(StreamState::kFinished)) return;
    FinishLocked(status);
  }
  Cancels cancels = CancelsOfStream(/*all=*/false);
  RunAll(cancels);
}

void SessionCore::Overflowed(const absl::Status& why) {
  MutexLock lock(&mu_);
  if (!LeaveLocked(StreamState::kFinished)) return;
  FinishLocked(why);
}

void SessionCore::Moved(uint64_t /*call_id*/) {
  MutexLock lock(&mu_);
  UnawaitLocked();
  MaybeFinishLocked();
}

void SessionCore::OnFrame(const ClientFrameView& frame) {
  Heard();
  if (!frame.calls.empty()) {
    DispatchAll(frame.acks, frame.calls);
  } else if (!frame.acks.empty()) {
    ledger_->Ack(frame.acks);
  }
  for (uint64_t call_id : frame.cancels) CancelCall(call_id);
  if (frame.close) core_.EndSession(session_);
}

void SessionCore::OnInputEnd() {
  const bool resumable = ledger_ != nullptr && ledger_->keeps_replies();
  {
    MutexLock lock(&mu_);
    if (state_ == StreamState::kOpen) state_ = StreamState::kDraining;
    // A resumable client whose connection ended either closed its session
    // (its last frame did) or lost the connection: the replies it awaits
    // wait in the ledger for the connection that resumes it.
    if (input_end_ == InputEnd::kCancelParked && resumable) awaiting_ = 0;
    MaybeFinishLocked();
  }
  if (input_end_ != InputEnd::kCancelParked) return;
  Cancels cancels = CancelsOfStream(/*all=*/false);
  RunAll(cancels);
}

void SessionCore::Break() { Leave(StreamState::kBroken); }

void SessionCore::End() { Leave(StreamState::kEnding); }

void SessionCore::Leave(StreamState state) {
  {
    MutexLock lock(&mu_);
    if (!LeaveLocked(state)) return;
    // Nobody reads a broken stream's replies: the ledger keeps them, or
    // drops them, for the session.
    if (state == StreamState::kBroken) awaiting_ = 0;
    MaybeFinishLocked();
  }
  Cancels cancels = CancelsOfStream(/*all=*/state == StreamState::kEnding);
  RunAll(cancels);
}

void SessionCore::HoldReplies() {
  MutexLock lock(&mu_);
  holding_ = true;
}

StreamState SessionCore::ReleaseReplies() {
  MutexLock lock(&mu_);
  holding_ = false;
  FlushLocked();
  MaybeFinishLocked();
  return state_;
}

void SessionCore::OnWriteDone(bool ok) {
  bool broke = false;
  {
    MutexLock lock(&mu_);
    writing_ = false;
    if (ok) {
      FlushLocked();
    } else {
      broke = LeaveLocked(StreamState::kBroken);
      if (broke) awaiting_ = 0;
    }
    MaybeFinishLocked();
  }
  if (!broke) return;
  Cancels cancels = CancelsOfStream(/*all=*/false);
  RunAll(cancels);
}

StreamState SessionCore::state() const {
  MutexLock lock(&mu_);
  return state_;
}

void SessionCore::DispatchAll(absl::Span<const uint64_t> acks, absl::Span<const CallView> calls) {
  // The stream awaits each call's reply from now on, before the ledger says
  // whether each call is new (a call in flight may be routed here and
  // answered at once); those the ledger answers here and now (kAnswered,
  // kDuplicate) are awaited no more once answered. Both are done for the
  // whole frame under one acquisition of each mutex: the frame arrived
  // whole, as if its calls had arrived together.
  // A session's frames are dispatched one at a time, whatever stream brought
  // them (see CallLedger::dispatch_mutex): a frame read before a resume runs
  // whole, in order, before the calls sent again after it.
  MutexLock dispatching(&ledger_->dispatch_mutex());
  absl::InlinedVector<uint64_t, 8> call_ids;
  call_ids.reserve(calls.size());
  for (const CallView& call : calls) call_ids.push_back(call.call_id);
  bool takes_replies = false;
  {
    MutexLock lock(&mu_);
    takes_replies = TakesRepliesLocked();
    if (takes_replies) awaiting_ += calls.size();
  }
  if (!takes_replies) {
    if (!acks.empty()) ledger_->Ack(acks);
    return;
  }
  CallLedger::Arrivals arrivals;
  std::vector<CallLedger::Answer> answers;
  ledger_->ArriveAll(acks, call_ids, stream_, &arrivals, &answers);
  // The calls that complete on this thread while the frame's calls run go
  // to the ledger together when they have run. (The transports hold the
  // replies meanwhile, so that they go out in one write: the framed one for
  // each read, the gRPC stream for a frame of several calls.)
  FrameCompletions completions{ledger_.get(), {}};
  // Most calls complete as they run: room for all, not grown call by call.
  completions.done.reserve(calls.size());
  // The calls of a frame of several mostly name one object: found once for
  // the frame (a frame of one call has nothing to gain).
  std::optional<FoundObjects> found_objects;
  if (calls.size() > 1) found_objects.emplace();
  FrameCompletions* const outer = std::exchange(t_completions, &completions);
  absl::Cleanup restore = [outer] { t_completions = outer; };
  size_t answered = 0;
  for (size_t i = 0; i < calls.size(); ++i) {
    const uint64_t call_id = calls[i].call_id;
    switch (arrivals[i]) {
      case CallLedger::Arrival::kAnswered: {
        // Sent again after a resume, and answered before: the reply kept.
        const CallLedger::Answer& answer = answers[answered++];
        MutexLock lock(&mu_);
        UnawaitLocked();
        QueueReplyLocked(call_id, answer.status, answer.response);
        break;
      }
      case CallLedger::Arrival::kDuplicate: {
        MutexLock lock(&mu_);
        UnawaitLocked();
        QueueReplyLocked(
            call_id,
            error::ValueError(absl::StrCat("call id ", call_id, " is in use by a call in flight")),
            absl::string_view());
        break;
      }
      case CallLedger::Arrival::kInFlight:
        // Sent again after a resume while it runs (or is parked): its reply
        // comes here.
        break;
      case CallLedger::Arrival::kNew:
        Run(calls[i]);
        break;
    }
  }
  std::move(restore).Invoke();
  if (!completions.done.empty()) ledger_->CompleteAll(absl::MakeSpan(completions.done));
}

void SessionCore::Run(const CallView& call) {
  const uint64_t call_id = call.call_id;
  // A client's calls mostly repeat the method of the call before: compared,
  // not hashed and looked up.
  const Method* method = last_method_ != nullptr && last_method_->path == call.method
                             ? last_method_
                             : dispatcher_.Find(call.method);
  if (method != nullptr) last_method_ = method;
  if (method == nullptr) {
    ledger_->Complete(call_id, error::ValueError(absl::StrCat("unknown method '", call.method, "'")),
                      std::string());
    return;
  }
  Control control(*this, call_id);
  CallContext context(core_, session_, &control, ledger_.get());
  auto complete = [route = Route::Ref(route_), call_id](absl::Status status,
                                                        std::string response) {
    FitReply(route->limit(), status, response);
    CallLedger* const ledger = route->ledger();
    if (t_completions != nullptr && t_completions->ledger == ledger) {
      t_completions->done.push_back({call_id, std::move(status), std::move(response)});
      return;
    }
    ledger->Complete(call_id, status, std::move(response));
  };
  static_assert(sizeof(complete) <= 2 * sizeof(void*) &&
                    std::is_nothrow_move_constructible_v<decltype(complete)>,
                "a call's completion fits in ReplyFn's own storage: no allocation per call");
  dispatcher_.Invoke(*method, context, call.request, std::move(complete));
}

void SessionCore::SetCancel(uint64_t call_id, absl::AnyInvocable<void()> cancel) {
  bool cancel_now = false;
  {
    MutexLock lock(&mu_);
    // The stream is going, and its parked calls with it.
    cancel_now = CancelsParkedLocked() &&
                 (state_ == StreamState::kEnding || !ledger_->keeps_replies());
  }
  // A call answered already needs nothing; cancel (which may hold the last
  // reference to an object) is dropped on return, without mu_.
  if (!cancel_now && ledger_->Park(call_id, cancel)) return;
  if (cancel) cancel();
}

void SessionCore::CancelCall(uint64_t call_id) {
  absl::AnyInvocable<void()> cancel = ledger_->TakeCancel(call_id);
  if (cancel) cancel();
}

void SessionCore::Deliver(uint64_t call_id, const absl::Status& status,
                          const std::string& response) {
  const Delivery reply{call_id, &status, &response};
  DeliverAll(absl::MakeConstSpan(&reply, 1));
}

void SessionCore::DeliverAll(absl::Span<const Delivery> replies) {
  MutexLock lock(&mu_);
  for (const Delivery& reply : replies) {
    TakeReplyLocked(reply.call_id, *reply.status, *reply.response);
  }
  MaybeFinishLocked();
}

void SessionCore::TakeReplyLocked(uint64_t call_id, const absl::Status& status,
                                  absl::string_view response) {
  UnawaitLocked();
  // A parked call cancelled as the server shuts down (End) ends as the
  // stream does.
  const bool ended_by_shutdown =
      state_ == StreamState::kEnding && status.code() == absl::StatusCode::kCancelled;
  QueueReplyLocked(call_id, ended_by_shutdown ? ShuttingDown() : status, response);
}

void SessionCore::UnawaitLocked() {
  // Zero already once a break or the end of input let go of what the
  // stream awaited.
  if (awaiting_ > 0) --awaiting_;
}

bool SessionCore::TakesRepliesLocked() const {
  return state_ == StreamState::kOpen || state_ == StreamState::kDraining ||
         state_ == StreamState::kEnding;
}

bool SessionCore::CancelsParkedLocked() const {
  switch (state_) {
    case StreamState::kOpen:
      return false;
    case StreamState::kDraining:
      return input_end_ == InputEnd::kCancelParked;
    default:
      return true;
  }
}

void SessionCore::QueueReplyLocked(uint64_t call_id, const absl::Status& status,
                                   absl::string_view response) {
  if (!TakesRepliesLocked()) return;
  if (status.ok()) {
    AppendOkReply(call_id, response, &queued_);
  } else {
    v1::Reply reply;
    reply.set_call_id(call_id);
    FillReplyError(status, &reply);
    AppendReply(reply, &queued_);
  }
  FlushLocked();
}

void SessionCore::FlushLocked() {
  if (writing_ || holding_ || queued_.empty()) return;
  if (TakesRepliesLocked()) writing_ = !sink_.WriteLocked(queued_);
  queued_.clear();
}

void SessionCore::MaybeFinishLocked() {
  if (awaiting_ > 0 || holding_) return;
  switch (state_) {
    case StreamState::kDraining:
      if (!writing_) FinishLocked(absl::OkStatus());
      return;
    case StreamState::kEnding:
      // Replies still queued behind a write in flight are not waited for:
      // a client that does not read must not hold up the shutdown.
      FinishLocked(ShuttingDown());
      return;
    case StreamState::kBroken:
      if (writing_) return;
      state_ = StreamState::kClosed;
      sink_.ClosedLocked();
      return;
    case StreamState::kOpen:
    case StreamState::kFinished:
    case StreamState::kClosed:
      return;
  }
}

void SessionCore::FinishLocked(const absl::Status& status) {
  // The replies ready now go before the end, when the sink takes them.
  if (!writing_ && !queued_.empty()) sink_.WriteLocked(queued_);
  queued_.clear();
  state_ = StreamState::kFinished;
  sink_.FinishLocked(status);
}

bool SessionCore::LeaveLocked(StreamState state) {
  if (!TakesRepliesLocked()) return false;
  state_ = state;
  return true;
}

void SessionCore::RunAll(Cancels& cancels) {
  for (auto& cancel : cancels) cancel();
  cancels.clear();
}

}  // namespace shoal::server
