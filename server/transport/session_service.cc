#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
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
// in the next frame. The reactor finishes once the client has stopped writing
// (or the stream broke), no call is pending and every reply is written.
class StreamReactor : public grpc::ServerBidiReactor<v1::ClientFrame, v1::ServerFrame> {
 public:
  StreamReactor(SessionService& service, absl::StatusOr<SessionId> session)
      : service_(service), core_(service.core_), dispatcher_(service.dispatcher_) {
    if (!session.ok()) {
      finished_ = true;
      Finish(ToGrpcStatus(session.status()));
      return;
    }
    session_ = *session;
    if (!core_.sessions().AttachStream(session_)) {
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
    in_.Clear();
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    MutexLock lock(&mu_);
    out_.Clear();
    if (!ok) {
      broken_ = true;
      writing_ = false;
      MaybeFinishLocked();
      return;
    }
    if (queued_.replies_size() > 0 && !broken_) {
      out_.Swap(&queued_);
      StartWrite(&out_);
    } else {
      writing_ = false;
      MaybeFinishLocked();
    }
  }

  void OnDone() override {
    service_.Forget(this);
    if (attached_) core_.sessions().DetachStream(session_, absl::Now());
    delete this;
  }

  // Ends the stream now, for a server shutting down.
  void End() {
    MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
    Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "ConnectionError: the server is shutting down"));
  }

 private:
  void Dispatch(const v1::Call& call) {
    {
      MutexLock lock(&mu_);
      ++pending_;
    }
    const uint64_t call_id = call.call_id();
    const Method* method = dispatcher_.Find(call.method());
    if (method == nullptr) {
      Complete(call_id, error::ValueError(absl::StrCat("unknown method '", call.method(), "'")),
               std::string());
      return;
    }
    if (!core_.sessions().Alive(session_)) {
      Complete(call_id, MakeError(ErrorKind::kAuthenticationError, "session ended"),
               std::string());
      return;
    }
    CallContext context(core_, session_);
    dispatcher_.Invoke(*method, context, call.request(),
                       [this, call_id](absl::Status status, std::string response) {
                         Complete(call_id, status, std::move(response));
                       });
  }

  void Complete(uint64_t call_id, const absl::Status& status, std::string response) {
    MutexLock lock(&mu_);
    --pending_;
    if (broken_) {
      MaybeFinishLocked();
      return;
    }
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

  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_ || pending_ > 0 || !(reading_done_ || broken_)) return;
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
  int pending_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_done_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
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
