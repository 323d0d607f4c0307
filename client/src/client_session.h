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
// After fork(), a ClientSession the child inherited stays its parent's
// (fork.h): the child never calls on it, and neither destroying it nor
// Close() touches its connection there. Calls in the child go to its
// successor, ForThisProcess(): a session of the child's own, logged in on
// the framed transport on first use, with the address, key and options the
// session kept and the framed endpoint its login learned.
//
// Thread-safe.
#ifndef SHOAL_CLIENT_SRC_CLIENT_SESSION_H_
#define SHOAL_CLIENT_SRC_CLIENT_SESSION_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "client/src/connection.h"
#include "client/src/fork.h"
#include "shoal/manager.h"
#include "shoal/v1/auth.pb.h"
#include "shoal/v1/value.pb.h"
#include "shoal/value.h"

namespace shoal::detail {

class ObjectHandle;

class ClientSession : public std::enable_shared_from_this<ClientSession> {
 public:
  // Reaches the server, runs the handshake, and opens the session stream.
  // In a process forked after the library used gRPC, both run on the framed
  // transport of a server this process (or an ancestor) logged in to
  // before; another is a ConnectionError that says so. Throws
  // ConnectionError or AuthenticationError.
  static std::shared_ptr<ClientSession> Connect(const std::string& address, const std::string& key,
                                                const ConnectOptions& options);

  ~ClientSession();
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  const std::string& id() const { return session_id_; }
  // The incarnation of the server the session is on, as its login told it:
  // what this session's object ids are only meaningful with (tokens carry
  // it). A successor's may differ, when the server started again.
  uint64_t incarnation() const { return incarnation_; }

  // Whether this process inherited the session through fork().
  bool inherited() const { return InheritedHere(born_); }
  // The session that calls in this process go to: this one, or, when it was
  // inherited, its successor, logged in the first time (which may throw as
  // Connect does). ConnectionError when the session was closed (here, or in
  // the parent before the fork), or EndSessionsOfThisProcess has run. The
  // successor lives as long as this session does here.
  ClientSession& ForThisProcess();

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

  // Ends the session now; for an inherited session, its successor, and no
  // successor is made afterwards. Idempotent.
  void Close();

 private:
  // How the session was opened: what its successor in a forked child logs
  // in with.
  struct Origin {
    std::string address;
    std::string key;
    ConnectOptions options;
    // Where the server's framed transport listens.
    v1::FramedEndpoint framed;
  };

  ClientSession(std::string session_id, uint64_t incarnation, Origin origin,
                std::shared_ptr<Connection> connection)
      : session_id_(std::move(session_id)),
        incarnation_(incarnation),
        origin_(std::move(origin)),
        connection_(std::move(connection)),
        stream_outbox_(std::make_shared<Outbox>(connection_, nullptr, /*stream=*/true)) {}

  // Opens a session on the framed transport alone (LogInFramed).
  static std::shared_ptr<ClientSession> ConnectFramed(Origin origin);
  // Makes the session known to EndSessionsOfThisProcess.
  static std::shared_ptr<ClientSession> Registered(std::shared_ptr<ClientSession> session);

  // The fork generation of the process that opened the session.
  const uint64_t born_ = ForkGeneration();
  const std::string session_id_;
  const uint64_t incarnation_;
  const Origin origin_;
  const std::shared_ptr<Connection> connection_;
  const std::shared_ptr<Outbox> stream_outbox_;
  // Close() has run: in a forked child, no successor is made.
  std::atomic<bool> closed_{false};
  // In a process that inherited the session, its successor there.
  ForkLocal<ClientSession> successor_;
};

// Encodes a value for a request and adds the owners of the objects it refers
// to to keep_alive. Throws ValueError, sending nothing, for a value nested
// deeper than the server accepts (kMaxValueDepth).
void EncodeArg(const Value& value, v1::Value* wire, KeepAlive* keep_alive);

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_CLIENT_SESSION_H_
