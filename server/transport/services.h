// The hand-written gRPC services: Auth (the handshake), Session (the
// multiplexed stream, keep-alive and close) and grpc.health.v1.Health.
#ifndef SHOAL_SERVER_TRANSPORT_SERVICES_H_
#define SHOAL_SERVER_TRANSPORT_SERVICES_H_

#include <atomic>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "server/core/core.h"
#include "server/transport/dispatch.h"
#include "server/transport/handshake.h"
#include "shared/mutex.h"
#include "shoal/v1/auth.grpc.pb.h"
#include "shoal/v1/session.grpc.pb.h"

namespace shoal::server {

// The handshake's two steps as unary calls (handshake.h does the work).
class AuthService : public v1::Auth::CallbackService {
 public:
  explicit AuthService(const Handshake& handshake) : handshake_(handshake) {}
  grpc::ServerUnaryReactor* Challenge(grpc::CallbackServerContext* context,
                                      const v1::ChallengeRequest* request,
                                      v1::ChallengeReply* reply) override;
  grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context,
                                   const v1::AnswerRequest* request,
                                   v1::AnswerReply* reply) override;

 private:
  const Handshake& handshake_;
};

class StreamReactor;

class SessionService : public v1::Session::CallbackService {
 public:
  SessionService(Core& core, const Dispatcher& dispatcher)
      : core_(core), dispatcher_(dispatcher) {}

  // Ends every open session stream (UNAVAILABLE), so that shutting down does
  // not wait out the grace for streams that would never end by themselves.
  // Sessions survive for their grace, as after any broken stream.
  void EndStreams();
  grpc::ServerBidiReactor<v1::ClientFrame, v1::ServerFrame>* Stream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* KeepAlive(grpc::CallbackServerContext* context,
                                      const v1::KeepAliveRequest* request,
                                      v1::KeepAliveReply* reply) override;
  grpc::ServerUnaryReactor* Close(grpc::CallbackServerContext* context,
                                  const v1::CloseRequest* request,
                                  v1::CloseReply* reply) override;

 private:
  friend class StreamReactor;
  void Forget(StreamReactor* reactor);

  Core& core_;
  const Dispatcher& dispatcher_;
  Mutex streams_mu_;
  absl::flat_hash_set<StreamReactor*> streams_ ABSL_GUARDED_BY(streams_mu_);
  bool ending_ ABSL_GUARDED_BY(streams_mu_) = false;
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
