// An ObjectHandle owns exactly one reference that a session holds on a server
// object, and gives it back (Manager/Release, batched) when destroyed. Proxies
// share a handle through shared_ptr, and so does ObjectRef::owner in the
// Values the library returns: the object stays alive on the server while any
// of them exists. A handle keeps its session open.
//
// After fork(), a handle the child inherited holds its parent's reference,
// which stays the parent's: in the child, ForThisProcess gives the handle of
// the child's own reference to the same object, taken (Manager/Lookup by id,
// and the incarnation of the server of the parent's session) by the
// session's successor on first use, and destroying the inherited handle gives
// back that reference only.
//
// Thread-safe: immutable after construction, but for the successor; destruction
// may happen on any thread, the connection's reader thread included.
#ifndef SHOAL_CLIENT_SRC_OBJECT_HANDLE_H_
#define SHOAL_CLIENT_SRC_OBJECT_HANDLE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "client/src/fork.h"
#include "shoal/value.h"

namespace shoal::detail {

class ClientSession;

class ObjectHandle {
 public:
  ObjectHandle(std::shared_ptr<ClientSession> session, uint64_t id, Kind kind)
      : session_(std::move(session)), id_(id), kind_(kind) {}
  ~ObjectHandle();
  ObjectHandle(const ObjectHandle&) = delete;
  ObjectHandle& operator=(const ObjectHandle&) = delete;

  uint64_t id() const { return id_; }
  Kind kind() const { return kind_; }
  // The session that holds the reference; call through ForThisProcess's.
  ClientSession& session() const { return *session_; }

  // The handle that calls in this process go through: handle itself, or,
  // when it was inherited through fork(), the handle of this process's own
  // reference to the object, taken the first time. Throws ConnectionError
  // as ClientSession::ForThisProcess, and KeyError when the object is gone
  // by then (its other holders dropped it before this process took its own).
  static std::shared_ptr<ObjectHandle> ForThisProcess(const std::shared_ptr<ObjectHandle>& handle);

 private:
  const std::shared_ptr<ClientSession> session_;
  const uint64_t id_;
  const Kind kind_;
  // In a process that inherited the handle, the handle of its own reference.
  ForkLocal<ObjectHandle> successor_;
};

// A new handle. Handles made here carry a deleter of their own, by which
// OwningHandle recognizes them.
std::shared_ptr<ObjectHandle> NewHandle(std::shared_ptr<ClientSession> session, uint64_t id,
                                        Kind kind);

// The handle that owns ref, when ref.owner was made by NewHandle for ref's
// id; null for an empty or foreign owner.
std::shared_ptr<ObjectHandle> OwningHandle(const ObjectRef& ref);

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_OBJECT_HANDLE_H_
