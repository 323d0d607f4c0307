// Direct gRPC calls, for tests of what the client library would never send:
// wrong proofs, replayed challenges, forged tokens, malformed values.
#ifndef SHOAL_TESTS_INTEGRATION_RAW_CLIENT_H_
#define SHOAL_TESTS_INTEGRATION_RAW_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <string>

#include "google/protobuf/message_lite.h"
#include "shoal/v1/auth.grpc.pb.h"
#include "shoal/v1/session.grpc.pb.h"

namespace shoal::testing {

// The Python error kind in a gRPC status's details ("" when it has none).
std::string KindOf(const grpc::Status& status);

struct RawChallenge {
  std::string client_nonce;
  shoal::v1::ChallengeReply reply;
};

class RawClient {
 public:
  explicit RawClient(const std::string& address)
      : channel_(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())),
        auth_(shoal::v1::Auth::NewStub(channel_)) {}
  // Over a channel made by the test (with TLS credentials, say).
  explicit RawClient(std::shared_ptr<grpc::Channel> channel)
      : channel_(std::move(channel)), auth_(shoal::v1::Auth::NewStub(channel_)) {}

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }

  RawChallenge Challenge();
  // Answers a challenge with the proof made from key; returns the status and
  // fills token on success.
  grpc::Status Answer(const RawChallenge& challenge, const std::string& key, std::string* token);
  // A full handshake; returns the token ("" on failure).
  std::string Login(const std::string& key);
  // The server's reply to the last successful Answer.
  const shoal::v1::AnswerReply& last_answer() const { return last_answer_; }

  // A context carrying "authorization: Bearer token".
  static std::unique_ptr<grpc::ClientContext> WithToken(const std::string& token);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<shoal::v1::Auth::Stub> auth_;
  shoal::v1::AnswerReply last_answer_;
};

// One session stream driven frame by frame, as the client library would,
// for tests of parked calls and cancellation. Not thread-safe.
class RawStream {
 public:
  // Opens the stream of the session the token belongs to.
  RawStream(std::shared_ptr<grpc::Channel> channel, const std::string& token);
  // Cancels the stream (as a client that crashed would) if it is still open.
  ~RawStream();

  // Adds a call to the next frame and returns its call id.
  uint64_t Add(const std::string& method, const google::protobuf::MessageLite& request);
  // The same with the request's bytes as they are.
  uint64_t AddBytes(const std::string& method, const std::string& request);
  // Adds a cancellation of call_id to the next frame.
  void AddCancel(uint64_t call_id);
  // Writes the frame built so far; false when the stream is closed.
  bool Send();
  // Reads replies until one for each of count calls has arrived, keeping
  // them by call id; false when the stream ended first.
  bool Receive(size_t count);
  // The reply to call_id, once received (CHECK-fails the test otherwise).
  const shoal::v1::Reply& reply(uint64_t call_id) const;
  bool has_reply(uint64_t call_id) const { return replies_.count(call_id) > 0; }
  // Breaks the stream from the client side.
  void Cancel() { context_->TryCancel(); }

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<shoal::v1::Session::Stub> stub_;
  std::unique_ptr<grpc::ClientReaderWriter<shoal::v1::ClientFrame, shoal::v1::ServerFrame>>
      stream_;
  shoal::v1::ClientFrame frame_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, shoal::v1::Reply> replies_;
};

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_INTEGRATION_RAW_CLIENT_H_
