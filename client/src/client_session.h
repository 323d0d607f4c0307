// A ClientSession is what a Manager stands for: one authenticated session
// with the server, the Connection that carries its calls, and the rules that
// keep reference counts right on both sides.
//
// References: every ObjectRef the server hands out in a reply (a Create or
// Lookup result, or any occurrence inside a returned Value) is one reference
// the session holds on the server. Adopt() turns each occurrence into its own
// ObjectHandle, which gives the reference back when destroyed, so each is
// returned exactly once, whatever the caller keeps. Conversion of a reply runs
// on the reader thread as soon as it arrives, so that the references of a
// reply nobody waits for are released all the same.
//
// The session ends (Session/Close) when the ClientSession is destroyed, that
// is when the last Manager, proxy and Value holding a reference is gone, or at
// Close().
//
// Thread-safe.
#ifndef SHOAL_CLIENT_SRC_CLIENT_SESSION_H_
#define SHOAL_CLIENT_SRC_CLIENT_SESSION_H_

#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/strings/string_view.h"
#include "client/src/connection.h"
#include "client/src/error_mapping.h"
#include "google/protobuf/message_lite.h"
#include "shoal/errors.h"
#include "shoal/manager.h"
#include "shoal/v1/auth.pb.h"
#include "shoal/v1/value.pb.h"
#include "shoal/value.h"

namespace shoal::detail {

class ObjectHandle;

// The outcome of the handshake: the channel it ran on, the server's answer
// (session id, bearer token, lease, message limit) and the deadline the
// options set, for what follows on the same connection.
struct Handshake {
  std::shared_ptr<grpc::Channel> channel;
  v1::AnswerReply answer;
  std::chrono::system_clock::time_point deadline;
};

// Reaches the server and runs the two-way handshake; the session it makes
// lives on its lease until a stream is opened for it. Throws
// ConnectionError or AuthenticationError.
Handshake RunHandshake(const std::string& address, const std::string& key,
                       const ConnectOptions& options);

class ClientSession : public std::enable_shared_from_this<ClientSession> {
 public:
  // Reaches the server, runs the handshake, and opens the session stream.
  // Throws ConnectionError or AuthenticationError.
  static std::shared_ptr<ClientSession> Connect(const std::string& address, const std::string& key,
                                                const ConnectOptions& options);

  ~ClientSession();
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  const std::string& id() const { return session_id_; }

  // Sends a call and returns the future of its result. When the reply
  // arrives, the reader thread parses it as Response and runs
  // convert(ClientSession&, Response&), whose result (or exception) the
  // future delivers; an error reply delivers the matching shoal::Error.
  // convert must adopt every reference in the reply and must not block.
  // With outbox, the call waits there until the outbox is flushed.
  // With awaited_id (only without outbox), the call is sent as awaited
  // (Connection::Send) and its id stored there: Await it or Disown it.
  template <class Response, class Convert>
  auto CallAsync(absl::string_view method, const google::protobuf::MessageLite& request,
                 KeepAlive keep_alive, Convert convert, Outbox* outbox = nullptr,
                 uint64_t* awaited_id = nullptr)
      -> std::future<std::invoke_result_t<Convert&, ClientSession&, Response&>>;

  // The blocking form of CallAsync: the caller reads its own reply when no
  // other thread is reading.
  template <class Response, class Convert>
  auto Call(absl::string_view method, const google::protobuf::MessageLite& request,
            KeepAlive keep_alive, Convert convert) {
    uint64_t call_id = 0;
    auto future = CallAsync<Response>(method, request, std::move(keep_alive), std::move(convert),
                                      nullptr, &call_id);
    if (call_id != 0) {
      const std::shared_ptr<Connection> connection = connection_;
      connection->Await(call_id);
    }
    return future.get();
  }

  const std::shared_ptr<Connection>& connection() const { return connection_; }

  // A blocking call whose reply holds no references; returns the reply.
  template <class Response>
  Response Call(absl::string_view method, const google::protobuf::MessageLite& request,
                KeepAlive keep_alive = {}) {
    return Call<Response>(method, request, std::move(keep_alive),
                          [](ClientSession&, Response& reply) { return std::move(reply); });
  }

  // Decodes a value from a reply; each reference in it owns one handle.
  // Throws the codec's error for a malformed value, after releasing every
  // reference it held.
  Value Adopt(const v1::Value& wire);
  // A handle for one reference in a reply (a Create or Lookup result).
  std::shared_ptr<ObjectHandle> AdoptRef(const v1::ObjectRef& ref);

  // Gives one reference back; used by ~ObjectHandle.
  void Release(uint64_t id) { connection_->QueueRelease(id); }
  // See Connection::SettleReleases.
  void SettleReleases() { connection_->SettleReleases(); }

  // A new, empty outbox for a Batch; it keeps this session open.
  std::shared_ptr<Outbox> NewOutbox() {
    return std::make_shared<Outbox>(connection_, shared_from_this());
  }
  // The outbox of async() calls: queued for the connection's flusher.
  const std::shared_ptr<Outbox>& stream_outbox() const { return stream_outbox_; }

  // Ends the session now. Idempotent.
  void Close() { connection_->Close(); }

 private:
  ClientSession(std::string session_id, std::shared_ptr<Connection> connection)
      : session_id_(std::move(session_id)),
        connection_(std::move(connection)),
        stream_outbox_(std::make_shared<Outbox>(connection_, nullptr, /*stream=*/true)) {}

  const std::string session_id_;
  const std::shared_ptr<Connection> connection_;
  const std::shared_ptr<Outbox> stream_outbox_;
};

// Encodes a value for a request and adds the owners of the objects it refers
// to to keep_alive.
void EncodeArg(const Value& value, v1::Value* wire, KeepAlive* keep_alive);

template <class Response, class Convert>
auto ClientSession::CallAsync(absl::string_view method,
                              const google::protobuf::MessageLite& request, KeepAlive keep_alive,
                              Convert convert, Outbox* outbox, uint64_t* awaited_id)
    -> std::future<std::invoke_result_t<Convert&, ClientSession&, Response&>> {
  using Result = std::invoke_result_t<Convert&, ClientSession&, Response&>;
  auto promise = std::make_shared<std::promise<Result>>();
  std::future<Result> future = promise->get_future();
  std::weak_ptr<ClientSession> weak = weak_from_this();
  const uint64_t call_id = connection_->Send(
      method, request, std::move(keep_alive),
      [promise, weak = std::move(weak),
       convert = std::move(convert)](CallOutcome& outcome) mutable {
        try {
          if (outcome.code != 0) {
            promise->set_exception(MakeError(outcome.error_kind, outcome.error_message));
            return;
          }
          Response response;
          if (!response.ParseFromString(outcome.response)) {
            throw Error("Error", "malformed reply from the server");
          }
          // The session may be mid-destruction while its last replies arrive;
          // nothing can own their references then, and the server drops them
          // with the session.
          std::shared_ptr<ClientSession> self = weak.lock();
          if (self == nullptr) throw ConnectionError("session closed");
          // The caller may drop its last handle on the session as soon as
          // the future is ready, and then exit: let go of the session first,
          // so that its Close runs on the caller's thread, not on this one
          // while the process ends.
          if constexpr (std::is_void_v<Result>) {
            convert(*self, response);
            self.reset();
            promise->set_value();
          } else {
            Result result = convert(*self, response);
            self.reset();
            promise->set_value(std::move(result));
          }
        } catch (...) {
          promise->set_exception(std::current_exception());
        }
      },
      outbox, awaited_id != nullptr);
  if (awaited_id != nullptr) *awaited_id = call_id;
  return future;
}

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_CLIENT_SESSION_H_
