// Internal plumbing between Manager and the proxy classes; not part of the
// stable API. It is the one place that builds proxies from object handles, and
// the escape hatch through which proxies of further kinds (Lock, Queue,
// Barrier, ...) are created and attached without Manager knowing their
// classes. Nothing here mentions gRPC: a handle is opaque outside the library.
//
// Thread-safety: the functions are safe to call from any thread.
#ifndef SHOAL_DETAIL_PROXY_ACCESS_H_
#define SHOAL_DETAIL_PROXY_ACCESS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "shoal/value.h"

namespace shoal {

class Manager;
class ObjectProxy;

namespace detail {

// Owns exactly one reference that the session holds on a server object; its
// destructor gives the reference back. Defined in the library's sources.
class ObjectHandle;

// The creation fields that only some kinds read (see Manager/Create).
struct CreateOptions {
  // Value and Array objects.
  std::string typecode;
  // Queue, JoinableQueue.
  int64_t maxsize = 0;
  // Barrier: parties, and its default timeout in seconds.
  int64_t parties = 0;
  std::optional<double> timeout;
  // Condition: the id and kind of its Lock or RLock; 0 for a new RLock.
  uint64_t lock_id = 0;
  Kind lock_kind = Kind::kUnspecified;
  // Lock.
  bool any_session_may_release = false;
  // Semaphore, BoundedSemaphore; unset for the kind's default.
  std::optional<bool> release_at_session_end;
  // Pool; unset for the server's default.
  std::optional<int64_t> max_retries;
};

class ProxyAccess {
 public:
  // Manager/Create: an object of any kind, get-or-create when name is not
  // empty. initial is the starting contents (None for the kind's default).
  // Throws TypeError when a named object of another kind exists, and the
  // server's errors otherwise.
  static std::shared_ptr<ObjectHandle> Create(const Manager& manager, Kind kind,
                                              std::string_view name, const Value& initial,
                                              const CreateOptions& options = {});

  // Manager/Lookup by the id and incarnation in a token
  // ("list:42@3f9a0c2e5b1d7a64"). Throws ValueError for a malformed token,
  // TypeError when it names another kind than kind (or other_kind, when
  // set), and KeyError (from the server) when the object is gone, or the
  // token is from another start of the server.
  static std::shared_ptr<ObjectHandle> Attach(const Manager& manager, const std::string& token,
                                              Kind kind, Kind other_kind = Kind::kUnspecified);

  // A proxy of class P around handle; P befriends ProxyAccess.
  template <class P>
  static P Make(std::shared_ptr<ObjectHandle> handle) {
    return P(std::move(handle));
  }

  static const std::shared_ptr<ObjectHandle>& Handle(const ObjectProxy& proxy);
};

}  // namespace detail
}  // namespace shoal

#endif  // SHOAL_DETAIL_PROXY_ACCESS_H_
