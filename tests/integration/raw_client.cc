#include "integration/raw_client.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "google/rpc/status.pb.h"
#include "shared/hmac.h"
#include "shoal/v1/errors.pb.h"

namespace shoal::testing {

std::string KindOf(const grpc::Status& status) {
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details()) || details.details_size() == 0) return "";
  v1::ErrorInfo info;
  if (!details.details(0).UnpackTo(&info)) return "";
  return info.kind();
}

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
  if (status.ok()) last_answer_ = reply;
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

RawStream::RawStream(std::shared_ptr<grpc::Channel> channel, const std::string& token)
    : context_(RawClient::WithToken(token)), stub_(shoal::v1::Session::NewStub(channel)) {
  // A reply that never comes fails the test instead of hanging it.
  context_->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  stream_ = stub_->Stream(context_.get());
}

RawStream::~RawStream() { context_->TryCancel(); }

uint64_t RawStream::Add(const std::string& method, const google::protobuf::MessageLite& request) {
  return AddBytes(method, request.SerializeAsString());
}

uint64_t RawStream::AddBytes(const std::string& method, const std::string& request) {
  shoal::v1::Call* call = frame_.add_calls();
  call->set_call_id(next_id_);
  call->set_method(method);
  call->set_request(request);
  return next_id_++;
}

void RawStream::AddCancel(uint64_t call_id) { frame_.add_cancels(call_id); }

bool RawStream::Send() {
  const bool ok = stream_->Write(frame_);
  frame_.Clear();
  return ok;
}

bool RawStream::Receive(size_t count) {
  shoal::v1::ServerFrame frame;
  while (count > 0) {
    if (!stream_->Read(&frame)) return false;
    for (const shoal::v1::Reply& reply : frame.replies()) {
      replies_[reply.call_id()] = reply;
      if (count > 0) --count;
    }
  }
  return true;
}

const shoal::v1::Reply& RawStream::reply(uint64_t call_id) const {
  auto it = replies_.find(call_id);
  if (it == replies_.end()) {
    std::fprintf(stderr, "no reply for call %llu\n", static_cast<unsigned long long>(call_id));
    std::abort();
  }
  return it->second;
}

}  // namespace shoal::testing
