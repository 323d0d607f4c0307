// A Manager is one authenticated session with a shoal server, the C++
// counterpart of a connected multiprocessing.Manager(): it creates shared
// objects and hands out proxies to them. Factories carry Python's names
// (list, dict, Namespace, Value); a non-empty name makes the object named,
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
// Worker processes: gRPC's internal threads do not survive fork(), so a
// child forked from a process that has connected cannot use gRPC at all. Start
// workers with fork() and exec() (or posix_spawn), or fork them before the
// parent connects; each worker then connects its own Manager and reaches the
// parent's objects by name or by token().
#ifndef SHOAL_MANAGER_H_
#define SHOAL_MANAGER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "shoal/auth_key.h"
#include "shoal/detail/proxy_access.h"
#include "shoal/dict_proxy.h"
#include "shoal/list_proxy.h"
#include "shoal/namespace_proxy.h"
#include "shoal/proxy.h"
#include "shoal/value.h"
#include "shoal/value_proxy.h"

namespace shoal {

namespace detail {
class ClientSession;
}  // namespace detail

struct ConnectOptions {
  // Shown in the server's session listings; defaults to "<host> pid <pid>".
  std::string client_name;
  // The deadline for reaching the server and completing the handshake.
  std::chrono::milliseconds timeout{10000};
  // false: a server that refuses the connection is a ConnectionError at once,
  // as in Python. true: keep trying until the timeout, for clients started
  // alongside their server.
  bool wait_for_server = false;
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
  // For Value objects.
  std::string typecode;
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

  // manager.Value(typecode, value). TypeError when initial does not fit
  // typecode. (Inside this class the member hides the type; spell the type
  // shoal::Value.)
  ValueProxy Value(std::string typecode, shoal::Value initial, std::string_view name = "") const;

  // The proxy of class P (ListProxy, DictProxy, ...) for a token that
  // another process got from proxy.token(). ValueError for a malformed token,
  // TypeError when the token names another kind than P's, KeyError when the
  // object no longer exists.
  template <class P>
  P attach(const std::string& token) const {
    static_assert(std::is_base_of_v<ObjectProxy, P>, "attach<P> needs a proxy class");
    return detail::ProxyAccess::Make<P>(detail::ProxyAccess::Attach(*this, token, P::kKind));
  }

  // Every live object on the server, with its reference counts. Proxies this
  // process dropped before the call have given their references back by then.
  std::vector<ObjectInfo> objects() const;
  // How many objects are alive on the server (Python's _number_of_objects).
  size_t object_count() const;

  // Deletes the name of a named object; it is freed once nothing refers to it.
  // KeyError when no object has that name.
  void delete_named(std::string_view name) const;

  // The server's id of this session.
  std::string session_id() const;

  // Ends the session now: the server drops its references and gives back what
  // it holds. Every later call through this Manager, its copies and its
  // proxies throws ConnectionError. Idempotent.
  void close();

 private:
  friend class detail::ProxyAccess;

  explicit Manager(std::shared_ptr<detail::ClientSession> session) : session_(std::move(session)) {}

  // The session, or ConnectionError when this Manager was never connected.
  detail::ClientSession& session() const;

  std::shared_ptr<detail::ClientSession> session_;
};

}  // namespace shoal

#endif  // SHOAL_MANAGER_H_
