// The base of every shared object class. Object classes hold state and
// semantics only: plain C++, absl::Status results, no gRPC. Each class guards
// its own state with its own mutex, so every public method is safe to call
// from any thread.
#ifndef SHOAL_SERVER_OBJECTS_OBJECT_H_
#define SHOAL_SERVER_OBJECTS_OBJECT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "server/objects/waiting.h"
#include "shoal/value.h"

namespace shoal::server {

class Object {
 public:
  explicit Object(Kind kind) : kind_(kind) {}
  virtual ~Object() = default;
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;

  Kind kind() const { return kind_; }

  // Python's repr of the contents: [1, 'a'], {'k': 1}, Namespace(a=1),
  // Value('i', 5).
  virtual std::string Repr() const = 0;
  // Items, entries or attributes held; 0 for kinds that hold none.
  virtual int64_t Size() const = 0;
  // Calls fn for every reference held inside the object's values.
  virtual void ForEachRef(const std::function<void(const ObjectRef&)>& fn) const {
    (void)fn;
  }

  // Called when a session ends: gives back what it holds in this object and
  // completes its parked waiters. Only the synchronization kinds hold or wait.
  virtual void EndSession(SessionId session) { (void)session; }

  // Set (for good) once a value holding a reference was stored, so that the
  // collector scans only objects that may hold references.
  void MarkMayHoldRefs() { may_hold_refs_.store(true, std::memory_order_relaxed); }
  bool may_hold_refs() const { return may_hold_refs_.load(std::memory_order_relaxed); }

 private:
  const Kind kind_;
  std::atomic<bool> may_hold_refs_{false};
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_OBJECT_H_
