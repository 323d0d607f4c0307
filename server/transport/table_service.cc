#include "server/transport/table_service.h"

#include <string>
#include <utility>
#include <vector>

#include <grpcpp/impl/codegen/server_callback_handlers.h>

#include "server/transport/authenticate.h"
#include "server/transport/grpc_status.h"
#include "shared/error_kind.h"
#include "shared/mutex.h"

namespace shoal::server {

TableService::TableService(Core& core, const Dispatcher& dispatcher, const DispatchTable& table)
    : core_(core), dispatcher_(dispatcher) {
  int index = 0;
  for (const Method& row : table.rows()) {
    const Method* method = &row;
    AddMethod(new grpc::internal::RpcServiceMethod(
        method->path.c_str(), grpc::internal::RpcMethod::NORMAL_RPC, nullptr));
    MarkMethodRawCallback(
        index++, new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
                     [this, method](grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
                       return Handle(context, *method, request, response);
                     }));
  }
}

namespace {

// One unary call. gRPC cancels it when the client goes away or its deadline
// passes (grpcurl's -max-time); a call parked on an object is cancelled then.
// The reactor deletes itself in OnDone, which gRPC runs after Finish and
// after OnCancel, so the completion (which calls Finish exactly once) and the
// cancellation never reach a deleted reactor.
// While it runs, the call holds its session's lease open (Sessions::BeginCall).
class UnaryCall : public grpc::ServerUnaryReactor, public CallControl {
 public:
  // Counts the call as in progress for session; false when the session has
  // ended.
  bool Begin(Sessions& sessions, SessionId session) {
    if (!sessions.BeginCall(session)) return false;
    sessions_ = &sessions;
    session_ = session;
    return true;
  }

  void SetCancel(absl::AnyInvocable<void()> cancel) override {
    {
      MutexLock lock(&mu_);
      if (!cancelled_) {
        if (!answered_) cancel_ = std::move(cancel);
        return;
      }
    }
    cancel();
  }

  void Answer(const grpc::Status& status) {
    absl::AnyInvocable<void()> dropped;
    {
      MutexLock lock(&mu_);
      answered_ = true;
      dropped = std::move(cancel_);
    }
    if (sessions_ != nullptr) sessions_->EndCall(session_, absl::Now());
    Finish(status);
  }

  void OnCancel() override {
    absl::AnyInvocable<void()> cancel;
    {
      MutexLock lock(&mu_);
      cancelled_ = true;
      cancel = std::move(cancel_);
    }
    if (cancel) cancel();
  }

  void OnDone() override { delete this; }

 private:
  // Set by Begin, before the call is dispatched; read by Answer, once.
  Sessions* sessions_ = nullptr;
  SessionId session_ = 0;
  Mutex mu_;
  absl::AnyInvocable<void()> cancel_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool answered_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

grpc::ServerUnaryReactor* TableService::Handle(grpc::CallbackServerContext* context,
                                               const Method& method,
                                               const grpc::ByteBuffer* request,
                                               grpc::ByteBuffer* response) {
  auto* call = new UnaryCall();
  absl::StatusOr<SessionId> session = Authenticate(core_, *context);
  if (!session.ok()) {
    call->Answer(ToGrpcStatus(session.status()));
    return call;
  }
  if (!call->Begin(core_.sessions(), *session)) {
    call->Answer(ToGrpcStatus(MakeError(ErrorKind::kAuthenticationError, "the session ended")));
    return call;
  }
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (request->Dump(&slices).ok()) {
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  CallContext context_for_call(core_, *session, call);
  dispatcher_.Invoke(method, context_for_call, bytes,
                     [call, response](absl::Status status, std::string out) {
                       if (!status.ok()) {
                         call->Answer(ToGrpcStatus(status));
                         return;
                       }
                       grpc::Slice slice(out);
                       *response = grpc::ByteBuffer(&slice, 1);
                       call->Answer(grpc::Status::OK);
                     });
  return call;
}

}  // namespace shoal::server
