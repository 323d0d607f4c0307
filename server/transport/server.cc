#include "server/transport/server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/server_posix.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/transport/acceptor.h"
#include "server/transport/framed_server.h"
#include "server/transport/handshake.h"
#include "server/transport/listener.h"
#include "server/transport/reflection_service.h"
#include "server/transport/services.h"
#include "server/transport/table_service.h"
#include "server/transport/tables.h"
#include "shared/error_kind.h"

namespace shoal::server {

struct Server::Services {
  Services(Core& core, int64_t max_connections)
      : dispatcher({&ListTable(), &DictTable(), &NamespaceTable(), &ValueTable(),
                    &ManagerTable(), &LockTable(), &RLockTable(), &SemaphoreTable(),
                    &BoundedSemaphoreTable(), &ConditionTable(), &EventTable(), &BarrierTable(),
                    &QueueTable(), &JoinableQueueTable(), &ConnectionTable(), &ArrayTable(), &PoolTable()}),
        handshake(core),
        auth(handshake),
        session(core, dispatcher),
        framed(core, dispatcher, handshake),
        health(dispatcher),
        reflection_v1(reflection_index),
        reflection_v1alpha(reflection_index),
        tables(core, dispatcher),
        acceptor(max_connections) {}

  Listener grpc_listener;
  Listener framed_listener;
  std::unique_ptr<TlsContext> tls;
  Dispatcher dispatcher;
  Handshake handshake;
  AuthService auth;
  SessionService session;
  FramedServer framed;
  HealthService health;
  ReflectionIndex reflection_index;
  ReflectionServiceV1 reflection_v1;
  ReflectionServiceV1Alpha reflection_v1alpha;
  TableService tables;
  std::unique_ptr<grpc::Server> server;
  // Declared last, destroyed first: the acceptor stops (and closes the
  // listeners) before what it hands connections to goes.
  Acceptor acceptor;
};

Server::Server(ServerOptions options)
    : options_(std::move(options)),
      core_(std::make_unique<Core>(options_.core)),
      services_(std::make_unique<Services>(*core_, options_.max_connections)) {}

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

// gRPC's TLS credentials over the same files as the framed port's; gRPC
// reads them again when they change (it looks every kTlsRefreshSeconds).
constexpr unsigned kTlsRefreshSeconds = 1;

std::shared_ptr<grpc::ServerCredentials> GrpcTlsCredentials(const TlsFiles& files) {
  const bool mutual = !files.client_ca_file.empty();
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key_file, files.cert_file, mutual ? files.client_ca_file : "", kTlsRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions options(std::move(provider));
  options.watch_identity_key_cert_pairs();
  if (mutual) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace

absl::StatusOr<std::string> Server::Start() {
  const bool tls = options_.tls.enabled();
  if (tls || !options_.tls.client_ca_file.empty() || !options_.tls.key_file.empty()) {
    // Loaded once here, so that files that cannot be used stop the start.
    absl::StatusOr<std::unique_ptr<TlsContext>> loaded = TlsContext::Load(options_.tls);
    if (!loaded.ok()) return loaded.status();
    services_->tls = *std::move(loaded);
  }
  // The gRPC address first: a second server on it fails naming that address.
  if (!tls) {
    absl::Status bound = services_->grpc_listener.Bind(options_.listen);
    if (!bound.ok()) return bound;
  }
  const bool framed = options_.session_listen != "none";
  if (framed) {
    const std::string address = options_.session_listen == "auto"
                                    ? AutoSessionAddress(options_.listen)
                                    : options_.session_listen;
    absl::Status bound = services_->framed_listener.Bind(address);
    if (!bound.ok()) return bound;
    absl::Status started = services_->framed.Start(options_.session_threads, services_->tls.get(),
                                                   options_.session_poll,
                                                   options_.session_batch_sends);
    if (!started.ok()) return started;
    v1::FramedEndpoint endpoint;
    if (services_->framed_listener.unix_path().empty()) {
      endpoint.set_port(services_->framed_listener.port());
    } else {
      endpoint.set_unix_path(services_->framed_listener.unix_path());
    }
    services_->handshake.set_framed(std::move(endpoint));
  }
  // Without TLS, no listening port: gRPC serves the connections the
  // acceptor hands it.
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  if (tls) {
    builder.AddListeningPort(options_.listen, GrpcTlsCredentials(options_.tls), &grpc_port);
    // A second server on the same port must fail, as without TLS.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  }
  const int max_message = static_cast<int>(options_.core.max_message_bytes);
  builder.SetMaxReceiveMessageSize(max_message);
  builder.SetMaxSendMessageSize(max_message);
  // gRPC takes its connections from the acceptor, which skips gRPC's own
  // handshake deadline: a connection with no call open for the login timeout
  // (one that never spoke, or that logged in for the framed port and is done
  // with gRPC) is closed instead. A client's channel opens a new one when it
  // next calls; a session's gRPC stream is a call open for as long as it lasts.
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_IDLE_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options_.core.login_timeout)));
  builder.RegisterService(&services_->auth);
  builder.RegisterService(&services_->session);
  builder.RegisterService(&services_->health);
  builder.RegisterService(&services_->reflection_v1);
  builder.RegisterService(&services_->reflection_v1alpha);
  builder.RegisterCallbackGenericService(&services_->tables);
  services_->server = builder.BuildAndStart();
  if (!services_->server || (tls && grpc_port == 0)) {
    services_->server.reset();
    return error::ValueError(absl::StrCat("cannot start the gRPC server on ", options_.listen));
  }

  const absl::Status refused =
      absl::ResourceExhaustedError(Acceptor::RefusalMessage(options_.max_connections));
  grpc::Server* grpc_server = services_->server.get();
  if (!tls) {
    services_->acceptor.Add(Acceptor::Port{
        "gRPC", &services_->grpc_listener,
        [grpc_server](int fd) { grpc::AddInsecureChannelFromFd(grpc_server, fd); },
        /*refusal=*/"", /*grpc=*/true});
  }
  if (framed) {
    FramedServer* framed_server = &services_->framed;
    services_->acceptor.Add(Acceptor::Port{"framed", &services_->framed_listener,
                                           [framed_server](int fd) { framed_server->Adopt(fd); },
                                           FramedServer::Refusal(refused), /*grpc=*/false});
  }
  absl::Status accepting = services_->acceptor.Start();
  if (!accepting.ok()) return accepting;

  if (absl::StartsWith(options_.listen, "unix:")) return options_.listen;
  const size_t colon = options_.listen.rfind(':');
  return absl::StrCat(options_.listen.substr(0, colon), ":",
                      tls ? grpc_port : services_->grpc_listener.port());
}

void Server::Shutdown(absl::Duration grace) {
  if (!services_->server) return;
  services_->health.SetServing(false);
  // No new connection from here on, on either port.
  services_->acceptor.Stop();
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
