#include "server/transport/table_service.h"

#include <string>
#include <utility>
#include <vector>

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>
#include <grpcpp/support/status.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/transport/authenticate.h"
#include "server/transport/grpc_status.h"
#include "shared/error_kind.h"
#include "shared/mutex.h"

namespace shoal::server {
namespace {

// One unary call on a table row, over the generic (streaming) API: the
// request is the one message read, the reply the one message written with
// the status.
//
// gRPC cancels the call when the client goes away or its deadline passes
// (grpcurl's -max-time); a call parked on an object is cancelled then. The
// reactor deletes itself in OnDone, which gRPC runs after Finish and after
// OnCancel, so the completion (which finishes exactly once) and the
// cancellation never reach a deleted reactor. While it runs, the call holds
// its session's lease open (Sessions::BeginCall).
class UnaryCall : public grpc::ServerGenericBidiReactor, public CallControl {
 public:
  UnaryCall(Core& core, const Dispatcher& dispatcher, const Method& method, SessionId session)
      : core_(core), dispatcher_(dispatcher), method_(method), session_(session) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The client sent no request: it went away, or its message was refused.
      Answer(error::ValueError("a unary call without a request message"), std::string());
      return;
    }
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (request_.Dump(&slices).ok()) {
      for (const grpc::Slice& slice : slices) {
        bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
      }
    }
    request_.Clear();
    CallContext context(core_, session_, this);
    dispatcher_.Invoke(method_, context, bytes, [this](absl::Status status, std::string out) {
      FitReply(core_.options().max_message_bytes, status, out);
      Answer(status, std::move(out));
    });
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

  void OnCancel() override {
    absl::AnyInvocable<void()> cancel;
    {
      MutexLock lock(&mu_);
      cancelled_ = true;
      cancel = std::move(cancel_);
    }
    if (cancel) cancel();
  }

  void OnWriteDone(bool) override {}

  void OnDone() override { delete this; }

 private:
  void Answer(const absl::Status& status, std::string out) {
    absl::AnyInvocable<void()> dropped;
    {
      MutexLock lock(&mu_);
      answered_ = true;
      dropped = std::move(cancel_);
    }
    core_.sessions().EndCall(session_, absl::Now());
    if (!status.ok()) {
      Finish(ToGrpcStatus(status));
      return;
    }
    grpc::Slice slice(out);
    response_ = grpc::ByteBuffer(&slice, 1);
    StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
  }

  Core& core_;
  const Dispatcher& dispatcher_;
  const Method& method_;
  const SessionId session_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  Mutex mu_;
  absl::AnyInvocable<void()> cancel_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool answered_ ABSL_GUARDED_BY(mu_) = false;
};

// A call answered at once, without a row.
class Refusal : public grpc::ServerGenericBidiReactor {
 public:
  explicit Refusal(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerGenericBidiReactor* TableService::CreateReactor(
    grpc::GenericCallbackServerContext* context) {
  const Method* method = dispatcher_.Find(context->method());
  if (method == nullptr) {
    return new Refusal(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                    absl::StrCat("unknown method ", context->method())));
  }
  absl::StatusOr<SessionId> session = Authenticate(core_, *context);
  if (!session.ok()) return new Refusal(ToGrpcStatus(session.status()));
  if (!core_.sessions().BeginCall(*session)) {
    return new Refusal(
        ToGrpcStatus(MakeError(ErrorKind::kAuthenticationError, "the session ended")));
  }
  return new UnaryCall(core_, dispatcher_, *method, *session);
}

}  // namespace shoal::server
