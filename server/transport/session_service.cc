#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/transport/authenticate.h"
#include "server/transport/grpc_status.h"
#include "server/transport/services.h"
#include "server/transport/session_core.h"
#include "shared/mutex.h"

namespace shoal::server {

// Serves one session stream over gRPC: the adapter between gRPC's reactor
// and the stream's SessionCore. Frames are read one at a time and handed to
// the core; the core's replies are written one batch at a time, so replies
// that complete while a write is out go together in the next frame, and so
// do the replies to the calls of one frame that complete at once.
//
// The reactor is deleted in OnDone, which gRPC runs after Finish, once it has
// detached the core from the session's ledger: a call still in flight then
// (parked, for a session that may be resumed) answers to the ledger, never
// to the reactor.
class StreamReactor : public grpc::ServerBidiReactor<v1::ClientFrame, v1::ServerFrame>,
                      private FrameSink {
 public:
  StreamReactor(SessionService& service, const grpc::CallbackServerContext& context)
      : service_(service),
        session_(service.core_, service.dispatcher_, *this,
                 SessionCore::InputEnd::kAnswerCalls) {
    absl::StatusOr<std::string> token = BearerToken(context);
    if (!token.ok()) {
      session_.Fail(token.status());
      return;
    }
    if (session_.Attach(*token)) StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      session_.OnInputEnd();
      return;
    }
    ViewOf(in_, &view_);
    // The replies to a frame's calls go out together (a client's release
    // riding with its call is answered with it), not the first alone.
    const bool several = view_.calls.size() > 1;
    if (several) session_.HoldReplies();
    session_.OnFrame(view_);
    if (several) session_.ReleaseReplies();
    view_.Clear();
    in_.Clear();
    // A stream the core has finished (its session ended for want of a
    // heartbeat, or the client broke the protocol) reads no more.
    if (session_.state() != StreamState::kFinished) StartRead(&in_);
  }

  void OnWriteDone(bool ok) override { session_.OnWriteDone(ok); }

  // The client cancelled the stream, or it broke.
  void OnCancel() override { session_.Break(); }

  void OnDone() override {
    service_.Forget(this);
    session_.Detach();
    delete this;
  }

  // Ends the stream, for a server shutting down (SessionCore::End).
  void End() { session_.End(); }

 private:
  bool WriteLocked(std::string& replies) override {
    // The core's replies are a serialized frame's body; gRPC writes messages.
    out_.Clear();
    out_.ParseFromString(replies);
    StartWrite(&out_);
    return false;
  }
  void FinishLocked(const absl::Status& status) override { Finish(ToGrpcStatus(status)); }
  void ClosedLocked() override { Finish(grpc::Status::OK); }

  SessionService& service_;
  SessionCore session_;
  // Only the read path touches in_, and one read is in flight at a time.
  v1::ClientFrame in_;
  ClientFrameView view_;
  // The frame of the write in flight: set by WriteLocked, which the core
  // calls only once the previous write is done.
  v1::ServerFrame out_;
};

grpc::ServerBidiReactor<v1::ClientFrame, v1::ServerFrame>* SessionService::Stream(
    grpc::CallbackServerContext* context) {
  auto* reactor = new StreamReactor(*this, *context);
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
