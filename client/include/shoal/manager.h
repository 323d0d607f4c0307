// A Manager is one authenticated session with a shoal server, the C++
// counterpart of a connected multiprocessing.Manager(): it creates shared
// objects and hands out proxies to them. Factories carry Python's names
// (list, dict, Namespace, Value, Array); a non-empty name makes the object named,
// get-or-create, shared by name with every other session, and kept until
// delete_named(); an anonymous object lives while some session or container
// refers to it.
//
// Manager is a cheap, copyable handle; copies share the session. The session
// stays open while any Manager copy or any proxy or Value made through it
// exists, and is closed (the server gives back what it held: references,
// lock holdings, waits) when the last of them is gone, or at close().
//
// Thread-safety: a Manager may be used from several threads at once. As with
// std::shared_ptr, one Manager variable must not be assigned in one thread
// while used in another.
//
// fork(): a child inherits its parent's Managers and proxies, and they work
// there as in the parent. On its first use in the child, a Manager opens a
// session of the child's own on the server, with the address, key and
// options it kept (on the framed transport: gRPC's threads do not survive
// fork(), and nothing of gRPC's is used in the child), and proxies take
// references of that session to their objects (see ObjectProxy). The
// parent's session is neither used nor disturbed by the child. connect() in
// a child works for the servers the parent had reached before the fork
// (where their framed transport listens is known; a ConnectionError says so
// for another). close() in the child ends the child's session only. A
// child's sessions end with it; one that _exit()s should close() its
// Managers first, so that the server gives back what they held at once
// rather than after the grace of a broken connection (--stream-grace).
// Futures and Batches stay with the process that made them: in a child,
// get() on a Future the parent made throws ConnectionError.
#ifndef SHOAL_MANAGER_H_
#define SHOAL_MANAGER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "shoal/acquirer_proxy.h"
#include "shoal/array_proxy.h"
#include "shoal/auth_key.h"
#include "shoal/condition_proxy.h"
#include "shoal/connection_proxy.h"
#include "shoal/detail/proxy_access.h"
#include "shoal/dict_proxy.h"
#include "shoal/event_proxy.h"
#include "shoal/list_proxy.h"
#include "shoal/namespace_proxy.h"
#include "shoal/proxy.h"
#include "shoal/queue_proxy.h"
#include "shoal/value.h"
#include "shoal/value_proxy.h"

namespace shoal {

namespace detail {
class ClientSession;
}  // namespace detail

// What carries the session stream.
enum class Transport {
  // The framed transport when the server offers it and it can be reached,
  // else gRPC's Session/Stream.
  kAuto,
  // The framed transport, or a ConnectionError: a plain TCP or unix socket
  // beside the gRPC port, cheaper per call.
  kFramed,
  // gRPC's Session/Stream, over HTTP/2 on the server's gRPC address.
  kGrpcStream,
};

// TLS for the connections to a server started with --tls-cert-file, on
// either transport. Fields left empty are taken from $SHOAL_TLS_CA_FILE,
// $SHOAL_TLS_CERT_FILE and $SHOAL_TLS_KEY_FILE; with no TlsOptions at all,
// TLS is on when any of them is set.
struct TlsOptions {
  // PEM certificates of the CAs that may sign the server's certificate;
  // empty: the system's CAs.
  std::string ca_file;
  // For a server that requires client certificates (mutual TLS): this
  // client's PEM certificate and its private key.
  std::string cert_file;
  std::string key_file;
  // The name the server's certificate must carry (and the SNI sent); empty:
  // the host of the address, or "localhost" for a unix socket.
  std::string server_name;
};

struct ConnectOptions {
  // Shown in the server's session listings; defaults to "<host> pid <pid>".
  std::string client_name;
  // The deadline for reaching the server and completing the handshake.
  std::chrono::milliseconds timeout{10000};
  // false: a server that refuses the connection is a ConnectionError at once,
  // as in Python. true: keep trying until the timeout, for clients started
  // alongside their server.
  bool wait_for_server = false;
  // The handshake runs on gRPC; this chooses what carries the calls. With
  // kAuto, $SHOAL_TRANSPORT (auto, framed or grpc) may choose instead. In a
  // process forked after gRPC was used, the handshake and the calls go on
  // the framed transport, whatever this says.
  Transport transport = Transport::kAuto;
  // When the connection breaks, reconnect and resume the session (with the
  // secret its login gave), so that its locks, parked calls and references
  // survive a network blip: calls in flight complete exactly once. Tries
  // again with backoff until the server's grace (--stream-grace) has passed
  // since the break; then, or when the session has ended meanwhile (the
  // server restarted, or ended it), every call raises SessionExpired.
  // false: a broken connection fails every call with ConnectionError.
  bool reconnect = true;
  // TLS on both transports; see TlsOptions for the environment's part.
  std::optional<TlsOptions> tls;
};

// One session's hold on a synchronization object.
struct Holder {
  uint64_t session_id = 0;
  // The client's name: "<host> pid <pid>" unless ConnectOptions named it.
  std::string client;
  // 1 for a Lock, the recursion count of an RLock, the permits of a Semaphore.
  int64_t count = 0;
};

// One live object, as Manager::objects() lists it.
struct ObjectInfo {
  uint64_t id = 0;
  Kind kind = Kind::kUnspecified;
  // Empty for an anonymous object.
  std::string name;
  // References held by sessions, and inside other objects.
  int64_t session_refs = 0;
  int64_t container_refs = 0;
  // Items, entries or attributes held.
  int64_t size = 0;
  // Python's repr of the contents; listings cut long ones with "...".
  std::string repr;
  // For Value and Array objects.
  std::string typecode;
  // Synchronization kinds: the sessions holding it, and how many calls wait.
  std::vector<Holder> holders;
  int64_t waiting = 0;
};

// What one session holds or waits on, as Manager::sessions() lists it.
struct SessionHolding {
  uint64_t object_id = 0;
  Kind kind = Kind::kUnspecified;
  std::string name;
  // As Holder::count; 0 when the session only waits.
  int64_t count = 0;
  // Its calls parked on the object.
  int64_t waiting = 0;
};

// One live session on the server.
struct SessionInfo {
  uint64_t id = 0;
  std::string client;
  std::string peer;
  // Open session streams; 0 for a session living on its lease (grpcurl).
  int streams = 0;
  // Seconds until the session ends unless it is heard from again (a call,
  // or any frame on its stream: the client library sends heartbeats); none
  // while a session without a stream has a unary call in progress.
  std::optional<double> expires_in;
  // References held.
  int64_t refs = 0;
  std::vector<SessionHolding> holdings;
};

// Options of Manager::Lock.
struct LockOptions {
  // Let any session release the lock, as Python lets any thread release a
  // Lock. By default only the session holding it may.
  bool any_session_may_release = false;
};

// Options of Manager::Semaphore and Manager::BoundedSemaphore.
struct SemaphoreOptions {
  // Whether the permits a session acquired and has not released are
  // released when its session ends (closed, crashed, or its stream lost past
  // the server's grace):
  //   true:  a resource pool: a worker that dies holding a permit does not
  //          shrink the pool for good.
  //   false: as in Python, where a semaphore has no owner: permits never
  //          come back by themselves. A signal counter needs this: with
  //          Semaphore(0), one process releases to signal and another
  //          acquires to consume; a consumer that then ends must not hand
  //          its signals out again.
  // Left unset: false for a Semaphore, true for a BoundedSemaphore (made to
  // guard a pool: every acquire is paired with the same holder's release,
  // and it never goes past its initial value). Ignored when a named
  // semaphore exists already: the first creator chose.
  std::optional<bool> release_at_session_end;
};

// Options of Manager::Pipe.
struct PipeOptions {
  // How many bytes of messages each direction holds (as the server counts a
  // value's size) before a send waits for the receiver; 0 for 64 KiB. A
  // message larger than that still goes through, alone.
  int64_t buffer_bytes = 0;
};

class Manager {
 public:
  // A Manager that is not connected; every call on it throws ConnectionError.
  // Assign the result of connect() to it.
  Manager() = default;

  // Connects to the server at address ("host:port" or "unix:/path") and runs
  // the mutual authkey handshake. Throws ConnectionError when the server
  // cannot be reached within options.timeout, and AuthenticationError when
  // either side does not hold key.
  static Manager connect(const std::string& address, const AuthKey& key,
                         const ConnectOptions& options = {});

  // manager.list(): a new anonymous list, or the list called name (created
  // empty, or with initial, when missing). TypeError when name is taken by
  // an object of another kind.
  ListProxy list(std::string_view name = "") const;
  ListProxy list(shoal::Value::List initial, std::string_view name = "") const;

  // manager.dict(): as list(), for dicts.
  DictProxy dict(std::string_view name = "") const;
  DictProxy dict(shoal::Value::Dict initial, std::string_view name = "") const;
  DictProxy dict(std::initializer_list<std::pair<shoal::Value, shoal::Value>> initial,
                 std::string_view name = "") const;

  // manager.Namespace()
  NamespaceProxy Namespace(std::string_view name = "") const;

  // manager.Value(typecode, value). TypeError when initial is of a type
  // typecode does not hold, OverflowError when it is a number out of
  // typecode's range, ValueError for an unknown typecode. (Inside this class
  // the member hides the type; spell the type shoal::Value.)
  ValueProxy Value(std::string typecode, shoal::Value initial, std::string_view name = "") const;

  // Array(typecode, initializer): an Array of the items given, as
  // m.Array("i", {1, 2, 3}); Array(typecode, size): size zeros, as
  // m.Array("d", 10). The typecodes are those of Python's array module: b B h
  // H i I l L q Q f d u. ValueError for another typecode or a negative size;
  // an item of the wrong type (TypeError) or out of range (OverflowError)
  // refuses the whole Array; LimitError past the server's --max-bytes.
  ArrayProxy Array(std::string typecode, shoal::Value::List initializer,
                   std::string_view name = "") const;
  // A template, so that a braced list of one int, m.Array("i", {5}), is the
  // initializer [5], as in Python, and not a size.
  template <class Int,
            std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>, int> = 0>
  ArrayProxy Array(std::string typecode, Int size, std::string_view name = "") const {
    return SizedArray(std::move(typecode), static_cast<int64_t>(size), name);
  }

  // manager.Lock(), manager.RLock()
  LockProxy Lock(std::string_view name = "", LockOptions options = {}) const;
  RLockProxy RLock(std::string_view name = "") const;
  // manager.Semaphore(value), manager.BoundedSemaphore(value); see
  // SemaphoreOptions for what a session's permits do when it ends.
  SemaphoreProxy Semaphore(int64_t value = 1, std::string_view name = "",
                           SemaphoreOptions options = {}) const;
  SemaphoreProxy BoundedSemaphore(int64_t value = 1, std::string_view name = "",
                                  SemaphoreOptions options = {}) const;
  // manager.Condition(): over a new RLock, or over the given Lock or RLock.
  ConditionProxy Condition(std::string_view name = "") const;
  ConditionProxy Condition(const AcquirerProxy& lock, std::string_view name = "") const;
  // manager.Event()
  EventProxy Event(std::string_view name = "") const;
  // manager.Barrier(parties, timeout): timeout is the default of wait().
  BarrierProxy Barrier(int64_t parties, Timeout timeout = std::nullopt,
                       std::string_view name = "") const;
  // manager.Queue(maxsize), manager.JoinableQueue(maxsize); 0 is unbounded.
  QueueProxy Queue(int64_t maxsize = 0, std::string_view name = "") const;
  QueueProxy JoinableQueue(int64_t maxsize = 0, std::string_view name = "") const;
  // manager.Pipe(duplex): the two ends of a new pipe. Duplex, each end sends
  // and receives; otherwise the first end only receives and the second only
  // sends, as Python's Pipe(duplex=False). Named, it is get-or-create: every
  // session that asks for the name gets the same two ends, in the same order
  // (the pipe stays as it was made, whatever duplex and options ask), and they
  // live until delete_named() and nothing refers to them. TypeError when
  // name is taken by an object of another kind. See ConnectionProxy for how
  // ends close.
  std::pair<ConnectionProxy, ConnectionProxy> Pipe(bool duplex = true, std::string_view name = "",
                                                  PipeOptions options = {}) const;

  // The proxy of class P (ListProxy, DictProxy, ...) for a token that
  // another process got from proxy.token(). ValueError for a malformed token
  // (one without the "@incarnation" part included), TypeError when the token
  // names another kind than P's, KeyError when the object no longer exists,
  // which is always the case for a token from another start of the server
  // (its incarnation is not the server's): such a token never names the
  // object that has its id now.
  template <class P>
  P attach(const std::string& token) const {
    static_assert(std::is_base_of_v<ObjectProxy, P>, "attach<P> needs a proxy class");
    return detail::ProxyAccess::Make<P>(
        detail::ProxyAccess::Attach(*this, token, P::kKind, P::kOtherKind));
  }

  // Every live object on the server, with its reference counts. Proxies this
  // process dropped before the call have given their references back by then.
  std::vector<ObjectInfo> objects() const;
  // Every live session, with what it holds and waits on.
  std::vector<SessionInfo> sessions() const;
  // One object, by name or by id, with its full repr (listings cut long
  // ones), who holds it and how many calls wait on it. KeyError when there
  // is no such object.
  ObjectInfo describe(std::string_view name) const;
  ObjectInfo describe(uint64_t id) const;
  // How many objects are alive on the server (Python's _number_of_objects).
  size_t object_count() const;

  // Deletes the name of a named object; it is freed once nothing refers to it.
  // KeyError when no object has that name.
  void delete_named(std::string_view name) const;

  // The server's id of this session (in a child made by fork(), of the
  // child's own session).
  std::string session_id() const;
  // The incarnation of the server the session is on (in a child made by
  // fork(), the child's own session): 16 lowercase hex digits, drawn at
  // random at each start of the server. It is the part of a token after
  // "@"; object ids are only meaningful within one start of the server.
  std::string incarnation() const;

  // Ends the session now: the server drops its references and gives back what
  // it holds. Every later call through this Manager, its copies and its
  // proxies throws ConnectionError. Idempotent. In a child made by fork(),
  // a Manager it inherited ends the child's session, not the parent's.
  void close();

 private:
  friend class detail::ProxyAccess;
  friend class Batch;

  explicit Manager(std::shared_ptr<detail::ClientSession> session) : session_(std::move(session)) {}

  // Array(typecode, size): size zeros.
  ArrayProxy SizedArray(std::string typecode, int64_t size, std::string_view name) const;

  // The session, or ConnectionError when this Manager was never connected.
  detail::ClientSession& session() const;

  std::shared_ptr<detail::ClientSession> session_;
};

}  // namespace shoal

#endif  // SHOAL_MANAGER_H_
