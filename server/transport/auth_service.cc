#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "server/transport/grpc_status.h"
#include "server/transport/listener.h"
#include "server/transport/services.h"

namespace shoal::server {

grpc::ServerUnaryReactor* AuthService::Challenge(grpc::CallbackServerContext* context,
                                                 const v1::ChallengeRequest* request,
                                                 v1::ChallengeReply* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Challenges::Issued> issued =
      core_.challenges().Issue(request->client_nonce(), absl::Now());
  if (!issued.ok()) {
    reactor->Finish(ToGrpcStatus(issued.status()));
    return reactor;
  }
  reply->set_challenge_id(issued->id);
  reply->set_server_nonce(issued->server_nonce);
  reply->set_server_proof(issued->server_proof);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

namespace {

// gRPC names the peer of a connection handed to it (Acceptor) by its
// descriptor, "fd:12"; the session lists the address behind it, as for a
// connection gRPC accepts itself. The call holds the connection open, so the
// descriptor is still the peer's.
std::string PeerOf(const grpc::CallbackServerContext& context) {
  std::string peer = context.peer();
  int fd = -1;
  if (absl::StartsWith(peer, "fd:") && absl::SimpleAtoi(peer.substr(3), &fd)) {
    std::string named = SocketPeerName(fd);
    if (!named.empty()) return named;
  }
  return peer;
}

}  // namespace

grpc::ServerUnaryReactor* AuthService::Answer(grpc::CallbackServerContext* context,
                                              const v1::AnswerRequest* request,
                                              v1::AnswerReply* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time now = absl::Now();
  absl::Status redeemed =
      core_.challenges().Redeem(request->challenge_id(), request->client_proof(), now);
  if (!redeemed.ok()) {
    reactor->Finish(ToGrpcStatus(redeemed));
    return reactor;
  }
  auto [id, token] = core_.sessions().Open(request->client_name(), PeerOf(*context), now);
  reply->set_session_id(std::to_string(id));
  reply->set_token(token);
  reply->set_lease_ms(absl::ToInt64Milliseconds(core_.sessions().lease()));
  reply->set_max_message_bytes(core_.options().max_message_bytes);
  if (framed_.port() != 0 || !framed_.unix_path().empty()) *reply->mutable_framed() = framed_;
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace shoal::server
