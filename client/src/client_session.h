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
// The session ends (a closing frame on the stream) when the ClientSession is
// destroyed, that is when the last Manager, proxy and Value holding a
// reference is gone, or at Close(). Calls go through client/src/call.h.
//
// Thread-safe.
#ifndef SHOAL_CLIENT_SRC_CLIENT_SESSION_H_
#define SHOAL_CLIENT_SRC_CLIENT_SESSION_H_

#include <memory>
#include <string>
#include <utility>

#include "client/src/connection.h"
#include "shoal/manager.h"
#include "shoal/v1/value.pb.h"
#include "shoal/value.h"

namespace shoal::detail {

class ObjectHandle;

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

  // What carries the session's calls.
  const std::shared_ptr<Connection>& connection() const { return connection_; }

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
// to to keep_alive. Throws ValueError, sending nothing, for a value nested
// deeper than the server accepts (kMaxValueDepth).
void EncodeArg(const Value& value, v1::Value* wire, KeepAlive* keep_alive);

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_CLIENT_SESSION_H_
