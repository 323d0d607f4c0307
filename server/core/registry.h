// The registry of live shared objects: ids, names, the references sessions
// hold, and the collector that frees what nothing refers to any more.
//
// An object is alive while it is named, while a session holds a reference to
// it, or while a live object holds a reference to it inside a value. Sessions'
// references are counted exactly; references inside values are found by a
// mark-and-sweep pass (Collect), so cycles among anonymous objects are freed
// too. Collect runs when a reference count falls to zero, a session ends or a
// name is deleted, deferred to the housekeeping thread.
//
// Thread-safe. Two mutexes: mu_ guards the tables, and the collector lock
// (collector_mutex()) orders operations against collection. The transport's
// dispatcher takes the collector lock shared around every call on an object,
// for the call's whole length, from the validation of references in its
// request to the retention of references in its reply; Collect takes it
// exclusively, so it never frees an object a call is handing over (and
// Core::EndSession takes it exclusively for a moment, to wait out the calls in
// flight). The collector lock is taken before mu_, never after.
#ifndef SHOAL_SERVER_CORE_REGISTRY_H_
#define SHOAL_SERVER_CORE_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/objects/object.h"
#include "server/objects/waiting.h"
#include "shared/mutex.h"
#include "shoal/value.h"

namespace shoal::server {

struct ObjectSummary {
  uint64_t id = 0;
  Kind kind = Kind::kUnspecified;
  std::string name;
  int64_t session_refs = 0;
  int64_t container_refs = 0;
  std::shared_ptr<Object> object;
};

class Registry {
 public:
  // max_objects <= 0 means no limit.
  explicit Registry(int64_t max_objects);
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Held shared by every object operation; see the file comment.
  Mutex& collector_mutex() ABSL_LOCK_RETURNED(collector_mu_) { return collector_mu_; }

  using Factory = std::function<absl::StatusOr<std::unique_ptr<Object>>()>;

  // Creates an object (anonymous when name is empty) and gives session one
  // reference to it. A name that exists already is get-or-create: the
  // existing object is returned when its kind matches (TypeError when not)
  // and factory is not called. Returns the id and whether it was created.
  absl::StatusOr<std::pair<uint64_t, bool>> Create(SessionId session, Kind kind,
                                                   const std::string& name,
                                                   const Factory& factory);

  // The object with this id, or by name when id is 0. KeyError when missing.
  absl::StatusOr<std::shared_ptr<Object>> Find(uint64_t id, const std::string& name) const;
  // Like Find, and checks the kind (TypeError when it differs).
  absl::StatusOr<std::shared_ptr<Object>> Find(uint64_t id, const std::string& name,
                                               Kind kind) const;

  // Checks that every reference inside value names a live object of the
  // stated kind (ValueError otherwise).
  absl::Status CheckRefs(const Value& value) const;

  // Gives session one more reference to each object referred to in value.
  void RetainRefs(SessionId session, const Value& value);
  // Gives session one reference to the object with this id, or by name when
  // id is 0, and returns a reference to it; KeyError when there is none.
  absl::StatusOr<ObjectRef> Retain(SessionId session, uint64_t id, const std::string& name);
  // Drops one of session's references to id; a no-op when it holds none.
  void Release(SessionId session, uint64_t id);
  // Drops every reference session holds.
  void DropSession(SessionId session);
  // Every live object of a synchronization kind (IsSyncKind), the
  // kinds that hold for sessions and park their calls, ordered by id; the
  // reference counts are left at 0.
  std::vector<ObjectSummary> SyncObjects() const;
  // The references session holds, by object id.
  absl::flat_hash_map<uint64_t, int64_t> SessionRefs(SessionId session) const;

  // Removes a name; the object is freed once nothing refers to it. KeyError
  // when no object has that name.
  absl::Status DeleteName(const std::string& name);

  // Frees every object that is not reachable from a name or a session
  // reference. Returns how many were freed. Takes the collector lock.
  int Collect() ABSL_LOCKS_EXCLUDED(collector_mu_);
  // Whether something happened since the last Collect that may have left an
  // object unreachable.
  bool collect_wanted() const;

  // Summarises one object, by id or by name when id is 0.
  absl::StatusOr<ObjectSummary> Summarize(uint64_t id, const std::string& name)
      ABSL_LOCKS_EXCLUDED(collector_mu_);
  // Collects, then summarises every live object, ordered by id.
  std::vector<ObjectSummary> List() ABSL_LOCKS_EXCLUDED(collector_mu_);
  size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<Object> object;
    std::string name;
    // Written by AdjustSessionRefsLocked only.
    int64_t session_refs = 0;
  };

  // The id of the object named by id, or by name when id is 0.
  absl::StatusOr<uint64_t> ResolveLocked(uint64_t id, const std::string& name) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Marks reachable objects and counts references held in containers.
  absl::flat_hash_map<uint64_t, int64_t> Mark() const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  // The only writer of the session reference counts, which are kept twice:
  // per object (Entry::session_refs, the collector's roots) and per session
  // (session_refs_, what DropSession gives back). It keeps, for every live
  // object id,
  //   objects_[id].session_refs == sum over s of session_refs_[s][id],
  // with only positive counts in session_refs_ and no empty inner map.
  // Adds delta to session's references to id; a negative delta drops no
  // more than the session holds, and when that leaves an anonymous object
  // without session references, asks for a collection. A no-op for an id
  // that names no object.
  void AdjustSessionRefsLocked(SessionId session, uint64_t id, int64_t delta)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int64_t max_objects_;
  Mutex collector_mu_;
  mutable Mutex mu_ ABSL_ACQUIRED_AFTER(collector_mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, Entry> objects_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint64_t> names_ ABSL_GUARDED_BY(mu_);
  // Each session's references, by object id. Written by
  // AdjustSessionRefsLocked only.
  absl::flat_hash_map<SessionId, absl::flat_hash_map<uint64_t, int64_t>> session_refs_
      ABSL_GUARDED_BY(mu_);
  bool collect_wanted_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_CORE_REGISTRY_H_
