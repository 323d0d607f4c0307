#include "client/src/grpc_transport.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/status.h>
#include <grpcpp/support/sync_stream.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client/src/error_mapping.h"
#include "client/src/fork.h"
#include "client/src/handshake.h"
#include "client/src/tls.h"
#include "google/rpc/status.pb.h"
#include "shared/hmac.h"
#include "shoal/errors.h"
#include "shoal/v1/auth.grpc.pb.h"
#include "shoal/v1/errors.pb.h"
#include "shoal/v1/session.grpc.pb.h"

namespace shoal::detail {
namespace {

// The ErrorInfo a gRPC status carries, when the server left one.
bool InfoFromDetails(const grpc::Status& status, v1::ErrorInfo* info) {
  if (status.error_details().empty()) return false;
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return false;
  for (const auto& any : details.details()) {
    if (any.UnpackTo(info) && !info->kind().empty()) return true;
  }
  return false;
}

// The kind for a status without details: the transport's own failures.
absl::string_view KindFromCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
      return "ConnectionError";
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return "AuthenticationError";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "LimitError";
    default:
      return "Error";
  }
}

// The exception for a failed handshake call: the kind from the status
// details (a google.rpc.Status carrying shoal.v1.ErrorInfo) when present,
// otherwise one chosen from the code.
[[noreturn]] void ThrowHandshakeFailure(const grpc::Status& status, const std::string& address,
                                       const std::optional<TlsOptions>& tls) {
  const grpc::StatusCode code = status.error_code();
  if (code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED) {
    // A server with TLS closes a plaintext connection, or one without the
    // client certificate it requires, without a word; gRPC reports only the
    // closed socket.
    const bool closed = absl::StrContains(status.error_message(), "Socket closed") ||
                        absl::StrContains(status.error_message(), "Connection reset");
    std::string hint;
    if (closed && !tls.has_value()) {
      hint = " (the server may require TLS: connect with TLS options, ConnectOptions::tls or "
             "$SHOAL_TLS_CA_FILE)";
    } else if (closed && tls->cert_file.empty()) {
      hint = " (the server may require a client certificate: TlsOptions::cert_file and "
             "key_file, or $SHOAL_TLS_CERT_FILE and $SHOAL_TLS_KEY_FILE)";
    }
    throw ConnectionError(absl::StrCat("cannot reach the shoal server at ", address, ": ",
                                       status.error_message(), hint));
  }
  const std::string context = absl::StrCat("handshake with the shoal server at ", address);
  v1::ErrorInfo info;
  if (InfoFromDetails(status, &info)) {
    ThrowError(info.kind(), absl::StrCat(context, ": ", info.message()));
  }
  ThrowError(KindFromCode(code), absl::StrCat(context, ": ", status.error_message()));
}

// Session/Stream. The status it ends with becomes an absl::Status of the
// same code: what the rest of the library speaks.
class GrpcStream : public SessionStream {
 public:
  GrpcStream(std::shared_ptr<grpc::Channel> channel, const std::string& token)
      : channel_(std::move(channel)), stub_(v1::Session::NewStub(channel_)) {
    context_.AddMetadata("authorization", "Bearer " + token);
    stream_ = stub_->Stream(&context_);
  }
  bool WriteBody(absl::string_view body) override {
    v1::ClientFrame frame;
    if (!frame.ParseFromArray(body.data(), static_cast<int>(body.size()))) return false;
    return stream_->Write(frame);
  }
  void WritesDone() override { stream_->WritesDone(); }
  bool Read(ServerFrameView* view) override {
    in_.Clear();
    if (!stream_->Read(&in_)) return false;
    ViewOf(in_, view);
    return true;
  }
  absl::Status Finish() override {
    const grpc::Status status = stream_->Finish();
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  void Cancel() override { context_.TryCancel(); }

 private:
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::Session::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::ClientFrame, v1::ServerFrame>> stream_;
  // The frame read last, which Read's views point into.
  v1::ServerFrame in_;
};

// The channel's credentials: TLS (gRPC's SSL credentials over the same files
// as the framed transport's), or none.
std::shared_ptr<grpc::ChannelCredentials> CredentialsFor(const std::optional<TlsOptions>& tls,
                                                         const std::string& address,
                                                         grpc::ChannelArguments& args) {
  if (!tls.has_value()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  if (!tls->ca_file.empty()) ssl.pem_root_certs = ReadTlsFile(tls->ca_file, "CA");
  if (!tls->cert_file.empty()) {
    ssl.pem_cert_chain = ReadTlsFile(tls->cert_file, "client certificate");
    ssl.pem_private_key = ReadTlsFile(tls->key_file, "client key");
  }
  if (!tls->server_name.empty()) {
    args.SetSslTargetNameOverride(tls->server_name);
  } else if (absl::StartsWith(address, "unix:")) {
    args.SetSslTargetNameOverride(TlsServerName(*tls, ""));
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace

Handshake RunHandshake(const std::string& address, const std::string& key,
                       const ConnectOptions& options, const SessionRequest& wanted) {
  // From here on, a process forked from this one cannot use gRPC.
  NoteGrpcUse();
  grpc::ChannelArguments args;
  // The server enforces its own limits; a large copy() must not fail here.
  args.SetMaxReceiveMessageSize(-1);
  Handshake out;
  const std::optional<TlsOptions> tls = ResolveTls(options.tls);
  std::shared_ptr<grpc::ChannelCredentials> credentials = CredentialsFor(tls, address, args);
  out.channel = grpc::CreateCustomChannel(address, credentials, args);
  out.deadline = std::chrono::system_clock::now() + options.timeout;
  std::unique_ptr<v1::Auth::Stub> auth = v1::Auth::NewStub(out.channel);

  // Step one: the challenge, with the server's proof that it holds the key.
  const std::string client_nonce = RandomBytes(kClientNonceBytes);
  v1::ChallengeReply challenge;
  {
    grpc::ClientContext context;
    context.set_deadline(out.deadline);
    context.set_wait_for_ready(options.wait_for_server);
    v1::ChallengeRequest request;
    request.set_client_nonce(client_nonce);
    grpc::Status status = auth->Challenge(&context, request, &challenge);
    if (!status.ok()) ThrowHandshakeFailure(status, address, tls);
  }
  const bool server_proved = ServerProvesKey(key, client_nonce, challenge);

  // Step two: our proof, for a session and its bearer token. It goes even when
  // the server's proof failed, so that the user learns which side's proof
  // did (handshake.h). The proof tells a server nothing that the real one
  // does not give anybody who asks for a challenge, and the session is never
  // used unless both proofs held.
  {
    grpc::ClientContext context;
    context.set_deadline(out.deadline);
    const v1::AnswerRequest request =
        AnswerFor(key, client_nonce, challenge,
                  options.client_name.empty() ? DefaultClientName() : options.client_name, wanted);
    grpc::Status status = auth->Answer(&context, request, &out.answer);
    const grpc::StatusCode code = status.error_code();
    if (!server_proved && code != grpc::StatusCode::UNAVAILABLE &&
        code != grpc::StatusCode::DEADLINE_EXCEEDED) {
      const std::string where = absl::StrCat("handshake with the shoal server at ", address, ": ");
      if (code == grpc::StatusCode::UNAUTHENTICATED) {
        throw AuthenticationError(absl::StrCat(where, kRefusedOurKey));
      }
      throw AuthenticationError(absl::StrCat(where, kServerNotProved));
    }
    if (!status.ok()) ThrowHandshakeFailure(status, address, tls);
  }
  return out;
}

std::unique_ptr<SessionStream> OpenGrpcStream(std::shared_ptr<grpc::Channel> channel,
                                              const std::string& token) {
  return std::make_unique<GrpcStream>(std::move(channel), token);
}

}  // namespace shoal::detail
