#include "integration/raw_client.h"

#include "shared/hmac.h"

namespace shoal::testing {

RawChallenge RawClient::Challenge() {
  RawChallenge challenge;
  challenge.client_nonce = RandomBytes(32);
  shoal::v1::ChallengeRequest request;
  request.set_client_nonce(challenge.client_nonce);
  grpc::ClientContext context;
  grpc::Status status = auth_->Challenge(&context, request, &challenge.reply);
  if (!status.ok()) challenge.reply.Clear();
  return challenge;
}

grpc::Status RawClient::Answer(const RawChallenge& challenge, const std::string& key,
                               std::string* token) {
  shoal::v1::AnswerRequest request;
  request.set_challenge_id(challenge.reply.challenge_id());
  request.set_client_proof(
      ClientProof(key, challenge.reply.server_nonce(), challenge.client_nonce));
  request.set_client_name("raw test client");
  shoal::v1::AnswerReply reply;
  grpc::ClientContext context;
  grpc::Status status = auth_->Answer(&context, request, &reply);
  if (status.ok() && token != nullptr) *token = reply.token();
  return status;
}

std::string RawClient::Login(const std::string& key) {
  std::string token;
  Answer(Challenge(), key, &token);
  return token;
}

std::unique_ptr<grpc::ClientContext> RawClient::WithToken(const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", "Bearer " + token);
  return context;
}

}  // namespace shoal::testing
