#include "client/src/client_session.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "client/src/object_handle.h"
#include "client/src/session_stream.h"
#include "shared/hmac.h"
#include "shared/value_codec.h"
#include "shoal/v1/auth.grpc.pb.h"
#include "shoal/v1/manager.pb.h"

namespace shoal::detail {
namespace {

constexpr size_t kNonceBytes = 32;

// How long the framed transport gets to connect before auto falls back to
// the gRPC stream.
constexpr std::chrono::seconds kFramedConnectTimeout(2);

// The transport asked for; $SHOAL_TRANSPORT decides when options leave it
// to auto.
Transport ChooseTransport(Transport asked) {
  if (asked != Transport::kAuto) return asked;
  const char* env = std::getenv("SHOAL_TRANSPORT");
  if (env == nullptr || env[0] == '\0' || std::strcmp(env, "auto") == 0) return Transport::kAuto;
  if (std::strcmp(env, "framed") == 0) return Transport::kFramed;
  if (std::strcmp(env, "grpc") == 0) return Transport::kGrpcStream;
  throw ValueError(absl::StrCat("SHOAL_TRANSPORT must be auto, framed or grpc, not '", env, "'"));
}

std::string DefaultClientName() {
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host[0] != '\0' ? host : "unknown-host", " pid ", getpid());
}

[[noreturn]] void ThrowHandshakeFailure(const grpc::Status& status, const std::string& address) {
  const grpc::StatusCode code = status.error_code();
  if (code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED) {
    throw ConnectionError(
        absl::StrCat("cannot reach the shoal server at ", address, ": ", status.error_message()));
  }
  ThrowGrpcStatus(status, absl::StrCat("handshake with the shoal server at ", address));
}

// Every handle made for one reply value, by object id; an id appears once per
// occurrence of its reference.
using HandlePool = absl::flat_hash_map<uint64_t, std::vector<std::shared_ptr<ObjectHandle>>>;

// Makes a handle for each reference in wire before anything else can fail, so
// that each is given back exactly once whatever happens to the value. The walk
// uses its own stack: the wire value's depth is the sender's choice.
void CollectRefs(const std::shared_ptr<ClientSession>& session, const v1::Value& wire,
                 HandlePool* pool) {
  std::vector<const v1::Value*> stack = {&wire};
  while (!stack.empty()) {
    const v1::Value* value = stack.back();
    stack.pop_back();
    switch (value->kind_case()) {
      case v1::Value::kRef:
        // An id of 0 names nothing, so the server counted nothing for it.
        if (value->ref().id() != 0) {
          (*pool)[value->ref().id()].push_back(
              NewHandle(session, value->ref().id(), static_cast<Kind>(value->ref().kind())));
        }
        break;
      case v1::Value::kList:
        for (const v1::Value& item : value->list().items()) stack.push_back(&item);
        break;
      case v1::Value::kDict:
        for (const v1::Entry& entry : value->dict().entries()) {
          stack.push_back(&entry.key());
          stack.push_back(&entry.value());
        }
        break;
      default:
        break;
    }
  }
}

// Gives each reference in a decoded value one handle from the pool as its
// owner. The value is at most kMaxValueDepth deep, since it decoded.
void AttachOwners(Value& value, HandlePool& pool) {
  switch (value.type()) {
    case Value::Type::kRef: {
      const ObjectRef& ref = value.as_ref();
      auto it = pool.find(ref.id);
      if (it == pool.end() || it->second.empty()) return;
      ObjectRef owned{ref.id, ref.kind, std::move(it->second.back())};
      it->second.pop_back();
      value = Value(std::move(owned));
      return;
    }
    case Value::Type::kList:
      if (!value.contains_ref()) return;
      for (Value& item : value.as_list()) AttachOwners(item, pool);
      return;
    case Value::Type::kDict: {
      if (!value.contains_ref()) return;
      // Keys are immutable inside a ValueDict, so the dict is rebuilt in
      // order with owned keys and values.
      Value::Dict owned;
      for (const auto& [key, item] : std::as_const(value).as_dict()) {
        Value owned_key = key;
        Value owned_item = item;
        AttachOwners(owned_key, pool);
        AttachOwners(owned_item, pool);
        owned.set(std::move(owned_key), std::move(owned_item));
      }
      value = Value(std::move(owned));
      return;
    }
    default:
      return;
  }
}

}  // namespace

Handshake RunHandshake(const std::string& address, const std::string& key,
                       const ConnectOptions& options) {
  grpc::ChannelArguments args;
  // The server enforces its own limits; a large copy() must not fail here.
  args.SetMaxReceiveMessageSize(-1);
  Handshake out;
  out.channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  out.deadline = std::chrono::system_clock::now() + options.timeout;
  std::unique_ptr<v1::Auth::Stub> auth = v1::Auth::NewStub(out.channel);

  // Step one: the server proves it holds the key, before we prove anything.
  const std::string client_nonce = RandomBytes(kNonceBytes);
  v1::ChallengeReply challenge;
  {
    grpc::ClientContext context;
    context.set_deadline(out.deadline);
    context.set_wait_for_ready(options.wait_for_server);
    v1::ChallengeRequest request;
    request.set_client_nonce(client_nonce);
    grpc::Status status = auth->Challenge(&context, request, &challenge);
    if (!status.ok()) ThrowHandshakeFailure(status, address);
  }
  const std::string expected = ServerProof(key, client_nonce, challenge.server_nonce());
  if (!ConstantTimeEquals(challenge.server_proof(), expected)) {
    throw AuthenticationError("server could not prove it holds the authkey");
  }

  // Step two: our proof, for a session and its bearer token.
  {
    grpc::ClientContext context;
    context.set_deadline(out.deadline);
    v1::AnswerRequest request;
    request.set_challenge_id(challenge.challenge_id());
    request.set_client_proof(ClientProof(key, challenge.server_nonce(), client_nonce));
    request.set_client_name(options.client_name.empty() ? DefaultClientName()
                                                        : options.client_name);
    grpc::Status status = auth->Answer(&context, request, &out.answer);
    if (!status.ok()) ThrowHandshakeFailure(status, address);
  }
  return out;
}

std::shared_ptr<ClientSession> ClientSession::Connect(const std::string& address,
                                                      const std::string& key,
                                                      const ConnectOptions& options) {
  // Decided first, so that a bad $SHOAL_TRANSPORT opens no session.
  const Transport transport = ChooseTransport(options.transport);
  Handshake handshake = RunHandshake(address, key, options);
  const v1::AnswerReply& answer = handshake.answer;
  const auto deadline = handshake.deadline;
  std::shared_ptr<grpc::Channel> channel = std::move(handshake.channel);

  std::unique_ptr<SessionStream> framed;
  if (transport != Transport::kGrpcStream) {
    // Where the framed port is filtered, auto does not spend the whole
    // timeout on it before it falls back.
    const auto framed_deadline =
        transport == Transport::kFramed
            ? deadline
            : std::min(deadline, std::chrono::system_clock::now() + kFramedConnectTimeout);
    absl::StatusOr<std::unique_ptr<SessionStream>> opened =
        OpenFramedStream(address, answer.framed(), answer.token(), framed_deadline);
    if (opened.ok()) {
      framed = *std::move(opened);
    } else if (transport == Transport::kFramed) {
      throw ConnectionError(absl::StrCat("cannot open the framed transport of the shoal server at ",
                                         address, ": ", opened.status().message()));
    }
  }
  std::shared_ptr<Connection> connection = Connection::Open(
      channel, answer.token(), answer.max_message_bytes(), options.timeout, std::move(framed));
  std::shared_ptr<ClientSession> session(new ClientSession(answer.session_id(), connection));

  // One round trip on the stream (an empty Release), so that a stream the
  // server refuses fails here, as connect's error, and not in the first call.
  std::future<v1::ReleaseReply> probe = session->CallAsync<v1::ReleaseReply>(
      "/shoal.v1.Manager/Release", v1::ReleaseRequest(), KeepAlive(),
      [](ClientSession&, v1::ReleaseReply& reply) { return reply; });
  if (probe.wait_until(deadline) != std::future_status::ready) {
    session->Close();
    throw ConnectionError(
        absl::StrCat("the shoal server at ", address, " did not open the session stream in time"));
  }
  try {
    probe.get();
  } catch (const ConnectionError&) {
    const grpc::Status end = connection->end_status();
    if (end.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      throw AuthenticationError("the server refused the session: " + end.error_message());
    }
    throw;
  }
  return session;
}

ClientSession::~ClientSession() { connection_->Close(); }

Value ClientSession::Adopt(const v1::Value& wire) {
  HandlePool pool;
  CollectRefs(shared_from_this(), wire, &pool);
  absl::StatusOr<Value> value = DecodeValue(wire);
  // On failure the handles go with the pool, giving their references back.
  if (!value.ok()) ThrowStatus(value.status());
  if (!pool.empty()) AttachOwners(*value, pool);
  return *std::move(value);
}

std::shared_ptr<ObjectHandle> ClientSession::AdoptRef(const v1::ObjectRef& ref) {
  if (ref.id() == 0) throw Error("Error", "the server returned a reference without an id");
  return NewHandle(shared_from_this(), ref.id(), static_cast<Kind>(ref.kind()));
}

void EncodeArg(const Value& value, v1::Value* wire, KeepAlive* keep_alive) {
  EncodeValue(value, wire);
  value.ForEachRef([keep_alive](const ObjectRef& ref) {
    if (ref.owner != nullptr) keep_alive->push_back(ref.owner);
  });
}

}  // namespace shoal::detail
