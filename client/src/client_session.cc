#include "client/src/client_session.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/src/call.h"
#include "client/src/error_mapping.h"
#include "client/src/fork.h"
#include "client/src/grpc_transport.h"
#include "client/src/tls.h"
#include "client/src/handshake.h"
#include "client/src/object_handle.h"
#include "client/src/session_stream.h"
#include "shared/error_kind.h"
#include "shared/incarnation.h"
#include "shared/value_codec.h"
#include "shoal/errors.h"

namespace shoal::detail {
namespace {

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

// The server's incarnation, from its login's answer. Tokens need it, so a
// server that does not tell it (one older than this library) is refused.
uint64_t IncarnationOf(const v1::AnswerReply& answer, const std::string& address) {
  uint64_t incarnation = 0;
  if (!ParseIncarnation(answer.incarnation(), &incarnation) || incarnation == 0) {
    throw ConnectionError(absl::StrCat("the shoal server at ", address,
                                       " did not tell its incarnation at login (is it older "
                                       "than this client library?)"));
  }
  return incarnation;
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
// owner. The value is at most kMaxValueDepth + kReplyNesting deep, since it
// decoded.
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

// An error a resume threw, as the status a Resumer returns: a server that
// cannot be reached is worth another try, anything else is final.
absl::Status StatusOfError(const Error& error) {
  const ErrorKind kind = ErrorKindFromName(error.kind());
  if (kind == ErrorKind::kConnectionError) return absl::UnavailableError(error.what());
  return MakeError(kind, error.what());
}

// The options of one try to resume, which must end by deadline.
ConnectOptions OptionsBy(const ConnectOptions& options,
                         std::chrono::system_clock::time_point deadline) {
  ConnectOptions by = options;
  by.timeout = std::max(std::chrono::milliseconds(1),
                        std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::system_clock::now()));
  by.wait_for_server = false;
  return by;
}

// What a session's login asks for: a resumable session, unless the options
// say not to reconnect.
SessionRequest Wanted(const ConnectOptions& options) {
  SessionRequest wanted;
  wanted.resumable = options.reconnect;
  return wanted;
}

// What resumes the session answer opened, or nothing when it cannot be
// resumed (the options say not to, or the server keeps no replies for it).
v1::ResumeSession ResumeOf(const v1::AnswerReply& answer) {
  v1::ResumeSession resume;
  resume.set_session_id(answer.session_id());
  resume.set_secret(answer.resume_secret());
  resume.set_incarnation(answer.incarnation());
  return resume;
}

}  // namespace

std::shared_ptr<ClientSession> ClientSession::Connect(const std::string& address,
                                                      const std::string& key,
                                                      const ConnectOptions& options) {
  InstallForkHandlers();
  // Decided first, so that a bad $SHOAL_TRANSPORT opens no session.
  const Transport transport = ChooseTransport(options.transport);
  Origin origin{address, key, options, v1::FramedEndpoint()};
  // Settled once, so that a forked child's session uses the same TLS.
  origin.options.tls = ResolveTls(options.tls);
  if (GrpcLostToFork()) {
    // gRPC's threads did not survive the fork that made this process: the
    // login runs on the framed transport, whatever the options say.
    std::optional<v1::FramedEndpoint> framed = KnownFramedEndpoint(address);
    if (!framed.has_value()) {
      throw ConnectionError(absl::StrCat(
          "cannot connect to the shoal server at ", address,
          " from this process: it was forked after the client library had used gRPC, whose "
          "threads do not survive fork(), so it logs in on the framed transport, whose address "
          "it knows only for the servers it or its parent had logged in to before the fork. "
          "Connect to ",
          address, " once before forking, or start this process with exec()"));
    }
    origin.framed = *std::move(framed);
    return ConnectFramed(std::move(origin));
  }
  Handshake handshake = RunHandshake(address, key, origin.options, Wanted(origin.options));
  const v1::AnswerReply& answer = handshake.answer;
  const uint64_t incarnation = IncarnationOf(answer, address);
  const auto deadline = handshake.deadline;
  RememberFramedEndpoint(address, answer.framed());
  origin.framed = answer.framed();

  std::unique_ptr<SessionStream> stream;
  if (transport != Transport::kGrpcStream) {
    // Where the framed port is filtered, auto does not spend the whole
    // timeout on it before it falls back.
    const auto framed_deadline =
        transport == Transport::kFramed
            ? deadline
            : std::min(deadline, std::chrono::system_clock::now() + kFramedConnectTimeout);
    absl::StatusOr<std::unique_ptr<SessionStream>> opened =
        OpenFramedStream(address, answer.framed(), answer.token(), framed_deadline,
                         origin.options.tls);
    if (opened.ok()) {
      stream = *std::move(opened);
    } else if (transport == Transport::kFramed) {
      throw ConnectionError(absl::StrCat("cannot open the framed transport of the shoal server at ",
                                         address, ": ", opened.status().message()));
    }
  }
  const bool framed_stream = stream != nullptr;
  // On the framed transport, the handshake's channel is not needed any more.
  if (stream == nullptr) stream = OpenGrpcStream(std::move(handshake.channel), answer.token());
  ResumeOptions resume;
  if (options.reconnect && !answer.resume_secret().empty()) {
    // A resume logs in again naming the session, then opens a stream on the
    // transport the session used.
    resume.grace = std::chrono::milliseconds(answer.stream_grace_ms());
    resume.resumer = [origin, resume = ResumeOf(answer), framed_stream](
                         std::chrono::system_clock::time_point deadline)
        -> absl::StatusOr<std::unique_ptr<SessionStream>> {
      try {
        SessionRequest wanted;
        wanted.resume = &resume;
        Handshake again =
            RunHandshake(origin.address, origin.key, OptionsBy(origin.options, deadline), wanted);
        if (!framed_stream) return OpenGrpcStream(std::move(again.channel), again.answer.token());
        absl::StatusOr<std::unique_ptr<SessionStream>> opened =
            OpenFramedStream(origin.address, again.answer.framed(), again.answer.token(),
                             deadline, origin.options.tls);
        if (!opened.ok()) return absl::UnavailableError(opened.status().message());
        return opened;
      } catch (const Error& error) {
        return StatusOfError(error);
      }
    };
  }
  std::shared_ptr<Connection> connection =
      Connection::Open(std::move(stream), answer.max_message_bytes(), options.timeout,
                       std::chrono::milliseconds(answer.lease_ms()), std::move(resume));
  std::shared_ptr<ClientSession> session(
      new ClientSession(answer.session_id(), incarnation, std::move(origin), connection));

  // One round trip on the stream (an empty Release), so that a stream the
  // server refuses fails here, as connect's error, and not in the first call.
  Future<v1::ReleaseReply> probe = Start(*session, nullptr, method::Manager::Release,
                                         v1::ReleaseRequest(), KeepAlive(), WholeReply);
  if (!probe.wait_for(deadline - std::chrono::system_clock::now())) {
    session->Close();
    throw ConnectionError(
        absl::StrCat("the shoal server at ", address, " did not open the session stream in time"));
  }
  try {
    probe.get();
  } catch (const ConnectionError&) {
    const absl::Status end = connection->end_status();
    if (absl::IsUnauthenticated(end)) {
      throw AuthenticationError("the server refused the session: " + std::string(end.message()));
    }
    throw;
  }
  return Registered(std::move(session));
}

std::shared_ptr<ClientSession> ClientSession::ConnectFramed(Origin origin) {
  const auto deadline = std::chrono::system_clock::now() + origin.options.timeout;
  const std::string client_name =
      origin.options.client_name.empty() ? DefaultClientName() : origin.options.client_name;
  FramedLogin login = LogInFramed(origin.address, origin.framed, origin.key, client_name, deadline,
                                  Wanted(origin.options), origin.options.tls);
  const uint64_t incarnation = IncarnationOf(login.answer, origin.address);
  // The login's answer is the server's word on where it listens now.
  RememberFramedEndpoint(origin.address, login.answer.framed());
  if (login.answer.has_framed()) origin.framed = login.answer.framed();
  // The answer came once the server had attached the stream to the session:
  // no round trip is needed to know the stream is taken.
  ResumeOptions resume;
  if (origin.options.reconnect && !login.answer.resume_secret().empty()) {
    // A resume logs in again on the framed transport, naming the session.
    resume.grace = std::chrono::milliseconds(login.answer.stream_grace_ms());
    resume.resumer = [origin, client_name, resume = ResumeOf(login.answer)](
                         std::chrono::system_clock::time_point deadline)
        -> absl::StatusOr<std::unique_ptr<SessionStream>> {
      try {
        SessionRequest wanted;
        wanted.resume = &resume;
        return LogInFramed(origin.address, origin.framed, origin.key, client_name, deadline,
                           wanted, origin.options.tls)
            .stream;
      } catch (const Error& error) {
        return StatusOfError(error);
      }
    };
  }
  std::shared_ptr<Connection> connection =
      Connection::Open(std::move(login.stream), login.answer.max_message_bytes(),
                       origin.options.timeout, std::chrono::milliseconds(login.answer.lease_ms()),
                       std::move(resume));
  return Registered(std::shared_ptr<ClientSession>(new ClientSession(
      login.answer.session_id(), incarnation, std::move(origin), std::move(connection))));
}

std::shared_ptr<ClientSession> ClientSession::Registered(std::shared_ptr<ClientSession> session) {
  RegisterSession(session);
  return session;
}

ClientSession::~ClientSession() {
  // An inherited session is the parent's to close; its successor, if any,
  // goes with successor_ (closed when its last owner lets go).
  if (!inherited()) connection_->Close();
}

ClientSession& ClientSession::ForThisProcess() {
  if (!inherited()) return *this;
  if (closed_.load()) throw ConnectionError("session closed");
  return *successor_.Get([this] {
    if (SessionsOfThisProcessEnded()) {
      throw ConnectionError("session closed: the sessions of this process have ended");
    }
    return ConnectFramed(origin_);
  });
}

void ClientSession::Close() {
  closed_.store(true);
  if (!inherited()) {
    connection_->Close();
    return;
  }
  if (std::shared_ptr<ClientSession> successor = successor_.Peek()) successor->Close();
}

Value ClientSession::Adopt(const v1::Value& wire) {
  HandlePool pool;
  CollectRefs(shared_from_this(), wire, &pool);
  absl::StatusOr<Value> value = DecodeReplyValue(wire);
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
  // Refused here, before anything is sent, as the server would refuse it.
  if (absl::Status encoded = EncodeValueToSend(value, wire); !encoded.ok()) {
    throw ValueError(std::string(encoded.message()));
  }
  value.ForEachRef([keep_alive](const ObjectRef& ref) {
    if (ref.owner == nullptr) return;
    // In a forked child, a reference inherited from the parent is kept
    // alive by the child's own (taken now, if it was not yet).
    if (ForkGeneration() != 0) {
      if (std::shared_ptr<ObjectHandle> handle = OwningHandle(ref)) {
        keep_alive->push_back(ObjectHandle::ForThisProcess(handle));
        return;
      }
    }
    keep_alive->push_back(ref.owner);
  });
}

}  // namespace shoal::detail
