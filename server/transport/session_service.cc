#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/strings/str_cat.h"
#include "server/transport/authenticate.h"
#include "server/transport/grpc_status.h"
#include "server/transport/services.h"
#include "shared/error_kind.h"
#include "shared/mutex.h"

namespace shoal::server {

// Serves one session stream. Frames of calls are read one at a time and each
// call is dispatched; replies are queued and written in batches, one write in
// flight at a time, so replies that complete while a write is out go together
// in the next frame.
//
// A call that parks stays in calls_ until its completion answers it, with
// what cancels it (CallControl). A Cancel frame cancels one parked call; a
// stream that breaks (or a server shutting down) cancels them all, so that
// every completion has run before the reactor finishes: the reactor finishes
// once the client has stopped writing (or the stream broke), no call is in
// flight and every reply is written, and is deleted only after that
// (OnDone), so no completion can reach a deleted reactor.
class StreamReactor : public grpc::ServerBidiReactor<v1::ClientFrame, v1::ServerFrame> {
 public:
  StreamReactor(SessionService& service, absl::StatusOr<SessionId> session)
      : service_(service), core_(service.core_), dispatcher_(service.dispatcher_) {
    if (!session.ok()) {
      MutexLock lock(&mu_);
      finished_ = true;
      Finish(ToGrpcStatus(session.status()));
      return;
    }
    session_ = *session;
    if (!core_.sessions().AttachStream(session_)) {
      MutexLock lock(&mu_);
      finished_ = true;
      Finish(ToGrpcStatus(MakeError(ErrorKind::kAuthenticationError, "session ended")));
      return;
    }
    attached_ = true;
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      MutexLock lock(&mu_);
      reading_done_ = true;
      MaybeFinishLocked();
      return;
    }
    for (const v1::Call& call : in_.calls()) Dispatch(call);
    for (uint64_t call_id : in_.cancels()) CancelCall(call_id);
    in_.Clear();
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    std::vector<absl::AnyInvocable<void()>> cancels;
    {
      MutexLock lock(&mu_);
      out_.Clear();
      if (!ok) {
        writing_ = false;
        cancels = BreakLocked();
      } else if (queued_.replies_size() > 0 && !broken_ && !finished_) {
        out_.Swap(&queued_);
        StartWrite(&out_);
      } else {
        writing_ = false;
        MaybeFinishLocked();
      }
    }
    RunAll(cancels);
  }

  // The client cancelled the stream, or it broke.
  void OnCancel() override {
    std::vector<absl::AnyInvocable<void()>> cancels;
    {
      MutexLock lock(&mu_);
      cancels = BreakLocked();
    }
    RunAll(cancels);
  }

  void OnDone() override {
    service_.Forget(this);
    if (attached_) core_.sessions().DetachStream(session_, absl::Now());
    delete this;
  }

  // Ends the stream, for a server shutting down: parked calls are cancelled,
  // and the stream finishes (UNAVAILABLE) once they are answered.
  void End() {
    std::vector<absl::AnyInvocable<void()>> cancels;
    {
      MutexLock lock(&mu_);
      if (finished_) return;
      ending_ = true;
      cancels = TakeCancelsLocked();
      MaybeFinishLocked();
    }
    RunAll(cancels);
  }

 private:
  // One call in flight.
  struct InFlight {
    // Set while the call is parked: what cancels it.
    absl::AnyInvocable<void()> cancel;
  };

  // The CallControl of one call on this stream.
  class Control : public CallControl {
   public:
    Control(StreamReactor& stream, uint64_t call_id) : stream_(stream), call_id_(call_id) {}
    void SetCancel(absl::AnyInvocable<void()> cancel) override {
      stream_.SetCancel(call_id_, std::move(cancel));
    }

   private:
    StreamReactor& stream_;
    const uint64_t call_id_;
  };

  void Dispatch(const v1::Call& call) {
    const uint64_t call_id = call.call_id();
    {
      MutexLock lock(&mu_);
      if (finished_) return;
      if (calls_.contains(call_id)) {
        QueueReplyLocked(call_id,
                         error::ValueError(absl::StrCat("call id ", call_id,
                                                        " is in use by a call in flight")),
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
                       [this, call_id](absl::Status status, std::string response) {
                         Complete(call_id, status, std::move(response));
                       });
  }

  void SetCancel(uint64_t call_id, absl::AnyInvocable<void()> cancel) {
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

  void CancelCall(uint64_t call_id) {
    absl::AnyInvocable<void()> cancel;
    {
      MutexLock lock(&mu_);
      auto it = calls_.find(call_id);
      if (it == calls_.end()) return;  // Answered already, or never sent.
      cancel = std::move(it->second.cancel);
    }
    if (cancel) cancel();
  }

  void Complete(uint64_t call_id, const absl::Status& status, std::string response) {
    absl::AnyInvocable<void()> dropped;
    MutexLock lock(&mu_);
    auto it = calls_.find(call_id);
    if (it != calls_.end()) {
      dropped = std::move(it->second.cancel);
      calls_.erase(it);
    }
    QueueReplyLocked(call_id, status, std::move(response));
    MaybeFinishLocked();
    // dropped is destroyed after mu_ is released (declared before the lock).
  }

  void QueueReplyLocked(uint64_t call_id, const absl::Status& status, std::string response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (broken_ || finished_) return;
    v1::Reply* reply = queued_.add_replies();
    reply->set_call_id(call_id);
    if (status.ok()) {
      reply->set_response(std::move(response));
    } else {
      FillReplyError(status, reply);
    }
    if (!writing_) {
      writing_ = true;
      out_.Swap(&queued_);
      StartWrite(&out_);
    }
  }

  // Marks the stream broken and takes every parked call's cancellation.
  std::vector<absl::AnyInvocable<void()>> BreakLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    broken_ = true;
    std::vector<absl::AnyInvocable<void()>> cancels = TakeCancelsLocked();
    MaybeFinishLocked();
    return cancels;
  }

  std::vector<absl::AnyInvocable<void()>> TakeCancelsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    cancelling_all_ = true;
    std::vector<absl::AnyInvocable<void()>> cancels;
    for (auto& [id, call] : calls_) {
      if (call.cancel) cancels.push_back(std::move(call.cancel));
    }
    return cancels;
  }

  static void RunAll(std::vector<absl::AnyInvocable<void()>>& cancels) {
    for (auto& cancel : cancels) cancel();
    cancels.clear();
  }

  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || !calls_.empty()) return;
    if (ending_) {
      finished_ = true;
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "ConnectionError: the server is shutting down"));
      return;
    }
    if (writing_ || !(reading_done_ || broken_)) return;
    finished_ = true;
    Finish(grpc::Status::OK);
  }

  SessionService& service_;
  Core& core_;
  const Dispatcher& dispatcher_;
  SessionId session_ = 0;
  bool attached_ = false;
  // Only the read path touches in_, and one read is in flight at a time.
  v1::ClientFrame in_;
  Mutex mu_;
  v1::ServerFrame out_ ABSL_GUARDED_BY(mu_);
  v1::ServerFrame queued_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, InFlight> calls_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_done_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  // Every parked call is being cancelled: later ones are cancelled at once.
  bool cancelling_all_ ABSL_GUARDED_BY(mu_) = false;
  bool ending_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

grpc::ServerBidiReactor<v1::ClientFrame, v1::ServerFrame>* SessionService::Stream(
    grpc::CallbackServerContext* context) {
  auto* reactor = new StreamReactor(*this, Authenticate(core_, *context));
  MutexLock lock(&streams_mu_);
  streams_.insert(reactor);
  if (ending_) reactor->End();
  return reactor;
}

void SessionService::Forget(StreamReactor* reactor) {
  MutexLock lock(&streams_mu_);
  streams_.erase(reactor);
}

void SessionService::EndStreams() {
  // Holding streams_mu_ keeps every listed reactor alive: OnDone must take it
  // to remove itself before the reactor is deleted.
  MutexLock lock(&streams_mu_);
  ending_ = true;
  for (StreamReactor* reactor : streams_) reactor->End();
}

grpc::ServerUnaryReactor* SessionService::KeepAlive(grpc::CallbackServerContext* context,
                                                    const v1::KeepAliveRequest*,
                                                    v1::KeepAliveReply* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<SessionId> session = Authenticate(core_, *context);
  if (!session.ok()) {
    reactor->Finish(ToGrpcStatus(session.status()));
    return reactor;
  }
  reply->set_lease_ms(absl::ToInt64Milliseconds(core_.sessions().lease()));
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* SessionService::Close(grpc::CallbackServerContext* context,
                                                const v1::CloseRequest*, v1::CloseReply*) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<SessionId> session = Authenticate(core_, *context);
  if (!session.ok()) {
    reactor->Finish(ToGrpcStatus(session.status()));
    return reactor;
  }
  core_.EndSession(*session);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace shoal::server
