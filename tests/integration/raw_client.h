// Direct gRPC calls, for tests of what the client library would never send:
// wrong proofs, replayed challenges, forged tokens, malformed values.
#ifndef SHOAL_TESTS_INTEGRATION_RAW_CLIENT_H_
#define SHOAL_TESTS_INTEGRATION_RAW_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "shoal/v1/auth.grpc.pb.h"

namespace shoal::testing {

struct RawChallenge {
  std::string client_nonce;
  shoal::v1::ChallengeReply reply;
};

class RawClient {
 public:
  explicit RawClient(const std::string& address)
      : channel_(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())),
        auth_(shoal::v1::Auth::NewStub(channel_)) {}

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }

  RawChallenge Challenge();
  // Answers a challenge with the proof made from key; returns the status and
  // fills token on success.
  grpc::Status Answer(const RawChallenge& challenge, const std::string& key, std::string* token);
  // A full handshake; returns the token ("" on failure).
  std::string Login(const std::string& key);

  // A context carrying "authorization: Bearer token".
  static std::unique_ptr<grpc::ClientContext> WithToken(const std::string& token);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<shoal::v1::Auth::Stub> auth_;
};

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_INTEGRATION_RAW_CLIENT_H_
