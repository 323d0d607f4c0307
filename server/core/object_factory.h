// The object factory: makes a new shared object of any kind from what a
// Manager.Create call asks for, checks what each kind starts from, and enters
// the object in the registry (get-or-create for a name).
//
// Thread-safe: it keeps no state of its own, and the registry, budget and
// timers it is given are thread-safe. They must outlive it.
#ifndef SHOAL_SERVER_CORE_OBJECT_FACTORY_H_
#define SHOAL_SERVER_CORE_OBJECT_FACTORY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/core/registry.h"
#include "server/objects/lock_object.h"
#include "server/objects/memory_budget.h"
#include "server/objects/object.h"
#include "server/objects/waiting.h"
#include "shoal/value.h"

namespace shoal::server {

// What a new object is made from. Each field but kind, kind_label and name
// concerns the kinds its comment names, and is ignored by the others.
struct ObjectSpec {
  Kind kind = Kind::kUnspecified;
  // How the caller spelt the kind, for the ValueError that refuses a kind no
  // object has (kUnspecified, or a number outside the enum).
  std::string kind_label;
  // Empty for an anonymous object; a name is get-or-create.
  std::string name;
  // list: a list or none; dict: a dict or none; Namespace: a dict of
  // attributes or none; Value: the value; Semaphore, BoundedSemaphore: the
  // permits, an int or none (1); Array: its length (an int, for zeros), its
  // items (a list) or its characters (a str).
  Value initial;
  // Value: the array typecode that fixes the value's type; empty for any.
  // Array: the typecode of its items.
  std::string typecode;
  // Lock: any session may release it, not only the holder.
  bool any_session_may_release = false;
  // Semaphore, BoundedSemaphore: whether the permits a session holds are
  // released when it ends; unset, the kind's default
  // (SemaphoreObject::DefaultReleaseAtSessionEnd).
  std::optional<bool> release_at_session_end;
  // Condition: the id of the Lock or RLock it works over; 0 for a new RLock.
  uint64_t lock_id = 0;
  // Barrier: the parties of each pass, and the default timeout of a wait in
  // seconds (none when left out; +inf is none too).
  int64_t parties = 0;
  std::optional<double> timeout_seconds;
  // Queue, JoinableQueue: the most items held; 0 for no bound. Pipe: the
  // most bytes each direction buffers; 0 for kDefaultPipeBufferBytes.
  int64_t maxsize = 0;
  // Pipe: both ends send and receive; false, the first only receives and
  // the second only sends.
  bool duplex = true;
  // Pool: how many losses of its worker a task survives; unset, 3.
  std::optional<int64_t> max_retries;
};

struct CreatedObject {
  uint64_t id = 0;
  // False when a named object existed already and was returned.
  bool created = false;
  // A Pipe's two ends (Connection objects), first the one that receives;
  // the session holds a reference to each. Empty for the other kinds.
  std::vector<uint64_t> ends;
};

class ObjectFactory {
 public:
  ObjectFactory(Registry* registry, MemoryBudget* budget, Timers* timers);
  ObjectFactory(const ObjectFactory&) = delete;
  ObjectFactory& operator=(const ObjectFactory&) = delete;

  // Creates the object spec asks for and gives session one reference to it.
  // A name that exists already returns that object when its kind matches
  // (Registry::Create). Fails, creating nothing, with ValueError for a
  // reference in spec.initial to no live object or for a bad argument,
  // TypeError for an initial value of the wrong type or a Condition's lock
  // that is no Lock or RLock, KeyError for a lock_id no object has, and the
  // registry's and the object's own errors. A Pipe is three objects: its
  // two ends and the pipe that holds them (CreatePipe).
  absl::StatusOr<CreatedObject> Create(SessionId session, ObjectSpec spec);

  // Makes the object alone, without entering it anywhere: the per-kind part
  // of Create, which runs it under the registry's lock, so it never calls the
  // registry. lock is the Condition's (null for a new RLock).
  absl::StatusOr<std::unique_ptr<Object>> Make(ObjectSpec spec,
                                               std::shared_ptr<LockObject> lock) const;

 private:
  // Create for a Pipe: the pipe named spec.name, when there is one, with
  // its ends; otherwise two new ends entered first, then the pipe that holds
  // them. What it entered before a failure it releases again, so that it is
  // collected.
  absl::StatusOr<CreatedObject> CreatePipe(SessionId session, const ObjectSpec& spec);
  // For a pipe that existed already, to which session holds a reference
  // now: gives session a reference to each of its ends too, and returns
  // what Create returns for it.
  absl::StatusOr<CreatedObject> PipeEnds(SessionId session, uint64_t pipe_id);
  // The Lock or RLock a Condition is to work over; null for a new RLock.
  absl::StatusOr<std::shared_ptr<LockObject>> ConditionLock(const ObjectSpec& spec) const;

  Registry* const registry_;
  MemoryBudget* const budget_;
  Timers* const timers_;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_CORE_OBJECT_FACTORY_H_
