#include "server/transport/session_calls.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/transport/grpc_status.h"
#include "shared/error_kind.h"

namespace shoal::server {

// The CallControl of one call.
class SessionCalls::Control : public CallControl {
 public:
  Control(SessionCalls& calls, uint64_t call_id) : calls_(calls), call_id_(call_id) {}
  void SetCancel(absl::AnyInvocable<void()> cancel) override {
    calls_.SetCancel(call_id_, std::move(cancel));
  }

 private:
  SessionCalls& calls_;
  const uint64_t call_id_;
};

void SessionCalls::DispatchFrame(const v1::ClientFrame& frame) {
  for (const v1::Call& call : frame.calls()) Dispatch(call);
  for (uint64_t call_id : frame.cancels()) CancelCall(call_id);
  if (frame.close()) core_.EndSession(session_);
}

void SessionCalls::Dispatch(const v1::Call& call) {
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
                     [this, call_id, hold = HoldForCall()](absl::Status status,
                                                           std::string response) {
                       Complete(call_id, status, std::move(response));
                     });
}

void SessionCalls::SetCancel(uint64_t call_id, absl::AnyInvocable<void()> cancel) {
  bool answered = false;
  {
    MutexLock lock(&mu_);
    auto it = calls_.find(call_id);
    answered = it == calls_.end();
    if (!answered && !cancelling_all_) {
      it->second.cancel = std::move(cancel);
      return;
    }
  }
  // The stream is going: cancel at once. A call answered already needs
  // nothing; cancel (which may hold the last reference to an object) is
  // dropped on return, without mu_.
  if (!answered) cancel();
}

void SessionCalls::CancelCall(uint64_t call_id) {
  absl::AnyInvocable<void()> cancel;
  {
    MutexLock lock(&mu_);
    auto it = calls_.find(call_id);
    if (it == calls_.end()) return;  // Answered already, or never sent.
    cancel = std::move(it->second.cancel);
  }
  if (cancel) cancel();
}

void SessionCalls::Complete(uint64_t call_id, const absl::Status& status, std::string response) {
  absl::AnyInvocable<void()> dropped;
  MutexLock lock(&mu_);
  auto it = calls_.find(call_id);
  if (it != calls_.end()) {
    dropped = std::move(it->second.cancel);
    calls_.erase(it);
  }
  QueueReplyLocked(call_id, status, std::move(response));
  CallEndedLocked();
  // dropped is destroyed after mu_ is released (declared before the lock).
}

void SessionCalls::QueueReplyLocked(uint64_t call_id, const absl::Status& status,
                                    std::string response) {
  if (!TakesRepliesLocked()) return;
  v1::Reply* reply = queued_.add_replies();
  reply->set_call_id(call_id);
  if (status.ok()) {
    reply->set_response(std::move(response));
  } else {
    FillReplyError(status, reply);
  }
  ReplyQueuedLocked();
}

SessionCalls::Cancels SessionCalls::TakeCancelsLocked() {
  cancelling_all_ = true;
  Cancels cancels;
  for (auto& [id, call] : calls_) {
    if (call.cancel) cancels.push_back(std::move(call.cancel));
  }
  return cancels;
}

void SessionCalls::RunAll(Cancels& cancels) {
  for (auto& cancel : cancels) cancel();
  cancels.clear();
}

}  // namespace shoal::server
