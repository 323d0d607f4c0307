// ObjectProxy is the base of every proxy: a cheap handle on one shared object
// that lives in a shoal server, in the manner of Python's BaseProxy. Copies of
// a proxy share one reference that the session holds on the object; when the
// last copy (and the last Value holding the reference) is gone, the reference
// is given back, and an anonymous object nothing else refers to is freed.
//
// Thread-safety: a proxy may be used from several threads at once; each call
// is one atomic operation on the server. As with std::shared_ptr, a single
// proxy variable must not be assigned in one thread while used in another.
// A proxy keeps its Manager's session open; after the session is closed or
// lost, every call throws ConnectionError.
//
// fork(): a proxy inherited by a child process works there as in the parent.
// On its first use in the child it takes a reference of the child's own to
// the object (in the child's session, see Manager), so the object lives on
// for the child even if the parent drops it later; destroying the proxy in
// the child gives back the child's reference only. Until that first use
// only the parent's reference keeps the object alive.
#ifndef SHOAL_PROXY_H_
#define SHOAL_PROXY_H_

#include <cstdint>
#include <memory>
#include <string>

#include "shoal/detail/proxy_access.h"
#include "shoal/pipeline.h"
#include "shoal/value.h"

namespace shoal {

class ObjectProxy {
 public:
  // A proxy class that serves two kinds (Semaphore and BoundedSemaphore,
  // Queue and JoinableQueue) names the second here.
  static constexpr Kind kOtherKind = Kind::kUnspecified;

  // The object's id on the server, and its kind.
  uint64_t id() const;
  Kind kind() const;

  // A string that names the object to another process:
  // "kind:id@incarnation", such as "list:42@3f9a0c2e5b1d7a64", where
  // incarnation (16 hex digits) names the start of the server the object
  // lives in. Manager::attach<P>(token) on any session of the same server
  // reaches it; once the server has started again, attach refuses it with
  // KeyError, whatever object has the id then.
  std::string token() const;

  // Python's str(proxy): the server's rendering of the contents, such as
  // [1, 'a'], {'k': 1}, Namespace(a=1, b='x') or Value('i', 5).
  std::string str() const;
  // The same as str(); shoal has no separate proxy repr.
  std::string repr() const;

  // A Value holding a live reference to this object, to store it inside a
  // list, dict, Namespace or Value (Python's nested proxies). The Value keeps
  // the object alive as a copy of the proxy would.
  Value ref() const;
  operator Value() const { return ref(); }  // NOLINT: implicit by design

  // Whether two proxies name the same object.
  friend bool operator==(const ObjectProxy& a, const ObjectProxy& b) { return a.id() == b.id(); }
  friend bool operator!=(const ObjectProxy& a, const ObjectProxy& b) { return !(a == b); }

 protected:
  explicit ObjectProxy(std::shared_ptr<detail::ObjectHandle> handle);
  // Takes the reference that value holds. Throws TypeError when value is not
  // a reference to an object of the given kind (or of other_kind, when set),
  // and ValueError when the reference was not made by this library (it has
  // no owner to share).
  ObjectProxy(const Value& value, Kind kind, Kind other_kind = Kind::kUnspecified);

  const detail::ObjectHandle& handle() const { return *handle_; }
  // What an async() view of this proxy calls through: the session's stream
  // outbox, or batch's when it is not null.
  detail::AsyncTarget async_target(Batch* batch) const;
  // What the blocking methods call through: each call is written at once.
  detail::AsyncTarget immediate_target() const;
  // Both targets go through this process's own reference to the object: in
  // a child made by fork(), a proxy it inherited takes one on first use.

 private:
  friend class detail::ProxyAccess;

  std::shared_ptr<detail::ObjectHandle> handle_;
};

}  // namespace shoal

#endif  // SHOAL_PROXY_H_
