#include <atomic>

#include "server/transport/services.h"

namespace shoal::server {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

bool HealthService::Known(const std::string& service) const {
  if (service.empty() || service == "shoal.v1.Auth" || service == "shoal.v1.Session") {
    return true;
  }
  for (const DispatchTable* table : dispatcher_.tables()) {
    if (table->service() == service) return true;
  }
  return false;
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* context,
                                               const HealthCheckRequest* request,
                                               HealthCheckResponse* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!Known(request->service())) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service"));
    return reactor;
  }
  reply->set_status(serving_.load() ? HealthCheckResponse::SERVING
                                    : HealthCheckResponse::NOT_SERVING);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

namespace {

// Sends the status once, then holds the stream open until the client goes or
// the server shuts down.
class WatchReactor : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  explicit WatchReactor(HealthCheckResponse::ServingStatus status) {
    response_.set_status(status);
    StartWrite(&response_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) FinishOnce(grpc::Status::OK);
  }
  void OnCancel() override { FinishOnce(grpc::Status::CANCELLED); }
  void OnDone() override { delete this; }

 private:
  void FinishOnce(const grpc::Status& status) {
    if (!finished_.exchange(true)) Finish(status);
  }

  HealthCheckResponse response_;
  std::atomic<bool> finished_{false};
};

}  // namespace

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext*, const HealthCheckRequest* request) {
  HealthCheckResponse::ServingStatus status = HealthCheckResponse::SERVICE_UNKNOWN;
  if (Known(request->service())) {
    status = serving_.load() ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
  }
  return new WatchReactor(status);
}

}  // namespace shoal::server
