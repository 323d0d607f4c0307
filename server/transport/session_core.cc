#include "server/transport/session_core.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/transport/stream_errors.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

// How the stream, and each call it still had parked, ends when the server
// shuts down: the client lost its server, it did not cancel anything.
absl::Status ShuttingDown() {
  return MakeError(ErrorKind::kConnectionError, "the server is shutting down");
}

}  // namespace

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
  if (!core_.sessions().AttachStream(*session, link)) {
    Fail(MakeError(ErrorKind::kAuthenticationError, "session ended"));
    return false;
  }
  session_ = *session;
  link_ = std::move(link);
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
  link_->Detach();
  core_.sessions().DetachStream(session_, link_.get(), absl::Now());
}

void SessionCore::Fail(const absl::Status& status) {
  Cancels cancels;
  {
    MutexLock lock(&mu_);
    if (!TakesRepliesLocked()) return;
    cancels = LeaveLocked(StreamState::kFinished);
    FinishLocked(status);
  }
  RunAll(cancels);
}

void SessionCore::OnFrame(const v1::ClientFrame& frame) {
  Heard();
  for (const v1::Call& call : frame.calls()) Dispatch(call);
  for (uint64_t call_id : frame.cancels()) CancelCall(call_id);
  if (frame.close()) core_.EndSession(session_);
}

void SessionCore::OnInputEnd() {
  Cancels cancels;
  {
    MutexLock lock(&mu_);
    if (state_ == StreamState::kOpen) state_ = StreamState::kDraining;
    if (input_end_ == InputEnd::kCancelParked) cancels = TakeCancelsLocked();
    MaybeFinishLocked();
  }
  RunAll(cancels);
}

void SessionCore::Break() { Leave(StreamState::kBroken); }

void SessionCore::End() { Leave(StreamState::kEnding); }

void SessionCore::Leave(StreamState state) {
  Cancels cancels;
  {
    MutexLock lock(&mu_);
    cancels = LeaveLocked(state);
    MaybeFinishLocked();
  }
  RunAll(cancels);
}

void SessionCore::HoldReplies() {
  MutexLock lock(&mu_);
  holding_ = true;
}

void SessionCore::ReleaseReplies() {
  MutexLock lock(&mu_);
  holding_ = false;
  FlushLocked();
  MaybeFinishLocked();
}

void SessionCore::OnWriteDone(bool ok) {
  Cancels cancels;
  {
    MutexLock lock(&mu_);
    writing_ = false;
    if (ok) {
      FlushLocked();
    } else {
      cancels = LeaveLocked(StreamState::kBroken);
    }
    MaybeFinishLocked();
  }
  RunAll(cancels);
}

StreamState SessionCore::state() const {
  MutexLock lock(&mu_);
  return state_;
}

void SessionCore::Dispatch(const v1::Call& call) {
  const uint64_t call_id = call.call_id();
  {
    MutexLock lock(&mu_);
    if (!TakesRepliesLocked()) return;
    if (calls_.contains(call_id)) {
      QueueReplyLocked(
          call_id,
          error::ValueError(absl::StrCat("call id ", call_id, " is in use by a call in flight")),
          std::string());
      return;
    }
    calls_.emplace(call_id, InFlight());
  }
  const Method* method = dispatcher_.Find(call.method());
  if (method == nullptr) {
    Complete(call_id, error::ValueError(absl::StrCat("unknown method '", call.method(), "'")),
             std::string());
    return;
  }
  Control control(*this, call_id);
  CallContext context(core_, session_, &control);
  dispatcher_.Invoke(*method, context, call.request(),
                     [this, call_id, hold = sink_.HoldForCall()](absl::Status status,
                                                                 std::string response) {
                       Complete(call_id, status, std::move(response));
                     });
}

void SessionCore::SetCancel(uint64_t call_id, absl::AnyInvocable<void()> cancel) {
  bool answered = false;
  {
    MutexLock lock(&mu_);
    auto it = calls_.find(call_id);
    answered = it == calls_.end();
    if (!answered && !CancelsParkedLocked()) {
      it->second.cancel = std::move(cancel);
      return;
    }
  }
  // The stream is going: cancel at once. A call answered already needs
  // nothing; cancel (which may hold the last reference to an object) is
  // dropped on return, without mu_.
  if (!answered) cancel();
}

void SessionCore::CancelCall(uint64_t call_id) {
  absl::AnyInvocable<void()> cancel;
  {
    MutexLock lock(&mu_);
    auto it = calls_.find(call_id);
    if (it == calls_.end()) return;  // Answered already, or never sent.
    cancel = std::move(it->second.cancel);
  }
  if (cancel) cancel();
}

void SessionCore::Complete(uint64_t call_id, const absl::Status& status, std::string response) {
  absl::AnyInvocable<void()> dropped;
  MutexLock lock(&mu_);
  auto it = calls_.find(call_id);
  if (it != calls_.end()) {
    dropped = std::move(it->second.cancel);
    calls_.erase(it);
  }
  // A parked call cancelled as the server shuts down (End) ends as the
  // stream does.
  const bool ended_by_shutdown =
      state_ == StreamState::kEnding && status.code() == absl::StatusCode::kCancelled;
  QueueReplyLocked(call_id, ended_by_shutdown ? ShuttingDown() : status, std::move(response));
  MaybeFinishLocked();
  // dropped is destroyed after mu_ is released (declared before the lock).
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
                                   std::string response) {
  if (!TakesRepliesLocked()) return;
  v1::Reply* reply = queued_.add_replies();
  reply->set_call_id(call_id);
  if (status.ok()) {
    reply->set_response(std::move(response));
  } else {
    FillReplyError(status, reply);
  }
  FlushLocked();
}

void SessionCore::FlushLocked() {
  if (writing_ || holding_ || queued_.replies_size() == 0) return;
  if (TakesRepliesLocked()) writing_ = !sink_.WriteLocked(queued_);
  queued_.Clear();
}

void SessionCore::MaybeFinishLocked() {
  if (!calls_.empty() || holding_) return;
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
  if (!writing_ && queued_.replies_size() > 0) sink_.WriteLocked(queued_);
  queued_.Clear();
  state_ = StreamState::kFinished;
  sink_.FinishLocked(status);
}

SessionCore::Cancels SessionCore::LeaveLocked(StreamState state) {
  if (!TakesRepliesLocked()) return Cancels();
  state_ = state;
  return TakeCancelsLocked();
}

SessionCore::Cancels SessionCore::TakeCancelsLocked() {
  Cancels cancels;
  for (auto& [id, call] : calls_) {
    if (call.cancel) cancels.push_back(std::move(call.cancel));
  }
  return cancels;
}

void SessionCore::RunAll(Cancels& cancels) {
  for (auto& cancel : cancels) cancel();
  cancels.clear();
}

}  // namespace shoal::server
