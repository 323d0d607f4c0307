// The hand-written gRPC services: Auth (the handshake), Session (the
// multiplexed stream, keep-alive and close) and grpc.health.v1.Health.
#ifndef SHOAL_SERVER_TRANSPORT_SERVICES_H_
#define SHOAL_SERVER_TRANSPORT_SERVICES_H_

#include <atomic>

#include "grpc/health/v1/health.grpc.pb.h"
#include "server/core/core.h"
#include "server/transport/dispatch.h"
#include "shoal/v1/auth.grpc.pb.h"
#include "shoal/v1/session.grpc.pb.h"

namespace shoal::server {

class AuthService : public v1::Auth::CallbackService {
 public:
  explicit AuthService(Core& core) : core_(core) {}
  grpc::ServerUnaryReactor* Challenge(grpc::CallbackServerContext* context,
                                      const v1::ChallengeRequest* request,
                                      v1::ChallengeReply* reply) override;
  grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context,
                                   const v1::AnswerRequest* request,
                                   v1::AnswerReply* reply) override;

 private:
  Core& core_;
};

class SessionService : public v1::Session::CallbackService {
 public:
  SessionService(Core& core, const Dispatcher& dispatcher)
      : core_(core), dispatcher_(dispatcher) {}
  grpc::ServerBidiReactor<v1::ClientFrame, v1::ServerFrame>* Stream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* KeepAlive(grpc::CallbackServerContext* context,
                                      const v1::KeepAliveRequest* request,
                                      v1::KeepAliveReply* reply) override;
  grpc::ServerUnaryReactor* Close(grpc::CallbackServerContext* context,
                                  const v1::CloseRequest* request,
                                  v1::CloseReply* reply) override;

 private:
  Core& core_;
  const Dispatcher& dispatcher_;
};

// Reports SERVING for the server ("") and each of its services until
// SetServing(false), at shutdown.
class HealthService : public grpc::health::v1::Health::CallbackService {
 public:
  explicit HealthService(const Dispatcher& dispatcher) : dispatcher_(dispatcher) {}
  void SetServing(bool serving) { serving_.store(serving); }
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* reply) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request) override;

 private:
  // The status of a service name, or nullopt when it is unknown.
  bool Known(const std::string& service) const;

  const Dispatcher& dispatcher_;
  std::atomic<bool> serving_{true};
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_SERVICES_H_
