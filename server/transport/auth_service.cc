#include <string>
#include <utility>

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
  absl::StatusOr<v1::ChallengeReply> challenge = handshake_.Challenge(*request);
  if (!challenge.ok()) {
    reactor->Finish(ToGrpcStatus(challenge.status()));
    return reactor;
  }
  *reply = *std::move(challenge);
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
  absl::StatusOr<v1::AnswerReply> answer = handshake_.Answer(*request, PeerOf(*context));
  if (!answer.ok()) {
    reactor->Finish(ToGrpcStatus(answer.status()));
    return reactor;
  }
  *reply = *std::move(answer);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace shoal::server
