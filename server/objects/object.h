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
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "server/objects/waiting.h"
#include "shoal/value.h"

namespace shoal::server {

// Whether kind is a synchronization kind: one that holds for sessions or
// parks their calls, and so has Holdings to show and a session's end to
// handle. The switch names every kind and has no default, so the compiler
// (-Wswitch) points at a kind added to the enum until it is sorted here.
inline bool IsSyncKind(Kind kind) {
  switch (kind) {
    case Kind::kLock:
    case Kind::kRLock:
    case Kind::kSemaphore:
    case Kind::kBoundedSemaphore:
    case Kind::kCondition:
    case Kind::kEvent:
    case Kind::kBarrier:
    case Kind::kQueue:
    case Kind::kJoinableQueue:
    case Kind::kConnection:
    case Kind::kPool:
      return true;
    case Kind::kUnspecified:
    case Kind::kList:
    case Kind::kDict:
    case Kind::kNamespace:
    case Kind::kValue:
    case Kind::kArray:
    case Kind::kPipe:
      return false;
  }
  return false;
}

// Who holds a synchronization object and who waits on it, for Describe and
// the manager's session listing.
struct Holdings {
  // Sessions holding the object, with the count each holds (1 for a Lock,
  // the recursion count of an RLock, the permits of a Semaphore), in no
  // particular order.
  std::vector<std::pair<SessionId, int64_t>> held;
  // Sessions with calls parked on the object, with how many each has.
  std::vector<std::pair<SessionId, int64_t>> waiting;
};

// A count per session, gathered before it goes into Holdings.
using SessionCounts = absl::flat_hash_map<SessionId, int64_t>;

// The (session, count) pairs of counts, in no particular order.
inline std::vector<std::pair<SessionId, int64_t>> CountPairs(const SessionCounts& counts) {
  return std::vector<std::pair<SessionId, int64_t>>(counts.begin(), counts.end());
}

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
  // Who holds the object and who waits on it; empty for the kinds that
  // neither hold nor park.
  virtual Holdings Held() const { return {}; }

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
