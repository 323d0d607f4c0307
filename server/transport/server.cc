#include "server/transport/server.h"

#include <grpcpp/grpcpp.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/transport/framed_server.h"
#include "server/transport/reflection_service.h"
#include "server/transport/services.h"
#include "server/transport/table_service.h"
#include "server/transport/tables.h"
#include "shared/error_kind.h"

namespace shoal::server {

struct Server::Services {
  explicit Services(Core& core)
      : dispatcher({&ListTable(), &DictTable(), &NamespaceTable(), &ValueTable(),
                    &ManagerTable(), &LockTable(), &RLockTable(), &SemaphoreTable(),
                    &BoundedSemaphoreTable(), &ConditionTable(), &EventTable(), &BarrierTable(),
                    &QueueTable(), &JoinableQueueTable()}),
        auth(core),
        session(core, dispatcher),
        framed(core, dispatcher),
        health(dispatcher),
        reflection_v1(reflection_index),
        reflection_v1alpha(reflection_index),
        tables(core, dispatcher) {}

  Dispatcher dispatcher;
  AuthService auth;
  SessionService session;
  FramedServer framed;
  HealthService health;
  ReflectionIndex reflection_index;
  ReflectionServiceV1 reflection_v1;
  ReflectionServiceV1Alpha reflection_v1alpha;
  TableService tables;
  std::unique_ptr<grpc::Server> server;
};

Server::Server(ServerOptions options)
    : options_(std::move(options)),
      core_(std::make_unique<Core>(options_.core)),
      services_(std::make_unique<Services>(*core_)) {}

Server::~Server() {
  if (services_->server) Shutdown(absl::ZeroDuration());
}

namespace {

// The address of the framed transport that "auto" stands for.
std::string AutoSessionAddress(const std::string& listen) {
  if (absl::StartsWith(listen, "unix:")) return absl::StrCat(listen, ".framed");
  const size_t colon = listen.rfind(':');
  return absl::StrCat(listen.substr(0, colon == std::string::npos ? listen.size() : colon), ":0");
}

}  // namespace

absl::StatusOr<std::string> Server::Start() {
  if (options_.session_listen != "none") {
    const std::string address = options_.session_listen == "auto"
                                    ? AutoSessionAddress(options_.listen)
                                    : options_.session_listen;
    absl::StatusOr<v1::FramedEndpoint> endpoint =
        services_->framed.Start(address, options_.session_threads);
    if (!endpoint.ok()) return endpoint.status();
    services_->auth.set_framed(*std::move(endpoint));
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options_.listen, grpc::InsecureServerCredentials(), &port);
  const int max_message = static_cast<int>(options_.core.max_message_bytes);
  builder.SetMaxReceiveMessageSize(max_message);
  builder.SetMaxSendMessageSize(max_message);
  builder.AddChannelArgument(
      GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options_.core.login_timeout)));
  builder.RegisterService(&services_->auth);
  builder.RegisterService(&services_->session);
  builder.RegisterService(&services_->health);
  builder.RegisterService(&services_->reflection_v1);
  builder.RegisterService(&services_->reflection_v1alpha);
  builder.RegisterCallbackGenericService(&services_->tables);
  services_->server = builder.BuildAndStart();
  if (!services_->server) {
    return error::ValueError(absl::StrCat("cannot listen on ", options_.listen));
  }
  if (absl::StartsWith(options_.listen, "unix:")) return options_.listen;
  if (port == 0) return error::ValueError(absl::StrCat("cannot listen on ", options_.listen));
  const size_t colon = options_.listen.rfind(':');
  return absl::StrCat(options_.listen.substr(0, colon), ":", port);
}

void Server::Shutdown(absl::Duration grace) {
  if (!services_->server) return;
  services_->health.SetServing(false);
  services_->session.EndStreams();
  services_->framed.End();
  services_->server->Shutdown(std::chrono::system_clock::now() +
                              absl::ToChronoMilliseconds(grace));
  services_->framed.Stop();
}

void Server::Wait() {
  if (services_->server) services_->server->Wait();
}

}  // namespace shoal::server
