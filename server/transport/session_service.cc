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
#include "server/transport/session_calls.h"
#include "shared/error_kind.h"
#include "shared/mutex.h"

namespace shoal::server {

// Serves one session stream over gRPC. Frames of calls are read one at a
// time and each call is dispatched (SessionCalls); replies are written in
// batches, one write in flight at a time, so replies that complete while a
// write is out go together in the next frame.
//
// The reactor finishes once the client has stopped writing (or the stream
// broke), no call is in flight and every reply is written, and is deleted
// only after that (OnDone), so no completion can reach a deleted reactor.
class StreamReactor : public grpc::ServerBidiReactor<v1::ClientFrame, v1::ServerFrame>,
                      public SessionCalls {
 public:
  StreamReactor(SessionService& service, absl::StatusOr<SessionId> session)
      : SessionCalls(service.core_, service.dispatcher_), service_(service) {
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
    DispatchFrame(in_);
    in_.Clear();
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    Cancels cancels;
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
    Cancels cancels;
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
    Cancels cancels;
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
  bool TakesRepliesLocked() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !broken_ && !finished_;
  }

  void ReplyQueuedLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_) return;
    writing_ = true;
    out_.Swap(&queued_);
    StartWrite(&out_);
  }

  void CallEndedLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { MaybeFinishLocked(); }

  // Marks the stream broken and takes every parked call's cancellation.
  Cancels BreakLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    broken_ = true;
    Cancels cancels = TakeCancelsLocked();
    MaybeFinishLocked();
    return cancels;
  }

  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || !NoCallsLocked()) return;
    if (ending_) {
      finished_ = true;
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, kShuttingDown));
      return;
    }
    if (writing_ || !(reading_done_ || broken_)) return;
    finished_ = true;
    Finish(grpc::Status::OK);
  }

  SessionService& service_;
  bool attached_ = false;
  // Only the read path touches in_, and one read is in flight at a time.
  v1::ClientFrame in_;
  v1::ServerFrame out_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_done_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
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
