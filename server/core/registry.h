// The registry of live shared objects: ids, names, the references sessions
// hold, and the freeing of what nothing refers to any more.
//
// An object is alive while it is named, while a session holds a reference to
// it, or while a value on the server holds a reference to it. Both kinds of
// reference are counted as they come and go, so an object is freed as soon as
// its last reference goes, at a cost that does not depend on how many objects
// the server holds:
//   - Session references are counted in the tables below.
//   - A reference stored in a value is bound (BindRefs) when the value enters
//     the server: its ObjectRef::owner becomes a RefHolder, one per stored
//     reference, shared by the copies of that value. A holder counts one
//     value reference of its target while it lives; its destructor, wherever
//     the value dies, uncounts it and queues the target for a look (Reap).
// Counting leaves cycles among anonymous objects. An object whose session
// references and name went while values still refer to it is a candidate;
// CollectCycles looks at the objects reachable from the candidates only (trial
// deletion: a candidate group whose value references all come from inside
// the group is garbage), never at the rest of the server.
//
// Thread-safety. Three mutexes: mu_ guards the tables; the collector lock
// (collector_mutex()) orders calls against CollectCycles; a leaf mutex inside
// the release queue takes the holders' notices. The transport's dispatcher
// takes the collector lock shared around every call on an object, for the
// call's whole length, from the binding of references in its request to the
// retention of references in its reply; CollectCycles, when it has
// candidates to look at, takes it exclusively, so the references it counts
// hold still (and Core::EndSession takes it
// exclusively for a moment, to wait out the calls in flight). The collector
// lock is taken before mu_, never after. Counting frees need no collector
// lock: every reference a call can hand over is either counted (a session's)
// or held by a value the call holds.
#ifndef SHOAL_SERVER_CORE_REGISTRY_H_
#define SHOAL_SERVER_CORE_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/objects/object.h"
#include "server/objects/waiting.h"
#include "shared/mutex.h"
#include "shoal/value.h"

namespace shoal::server {

// The notices of value references that went, from RefHolder destructors,
// which run wherever a value dies. Shared by the registry and its holders, so
// that a value outliving the registry still has somewhere to write.
class ReleaseQueue {
 public:
  void Push(uint64_t id);
  std::vector<uint64_t> Take();
  bool empty() const;
  // Called, outside the queue's mutex, after a push into the empty queue;
  // set before use. Pushes that find ids waiting do not call it: whoever
  // it woke has not taken them yet, and takes theirs with them.
  void set_wake(std::function<void()> wake);

 private:
  mutable Mutex mu_;
  std::vector<uint64_t> ids_ ABSL_GUARDED_BY(mu_);
  std::function<void()> wake_ ABSL_GUARDED_BY(mu_);
};

// What every bound reference to one object shares: how many stored
// references there are.
struct RefAnchor {
  RefAnchor(uint64_t id, std::shared_ptr<ReleaseQueue> queue) : id(id), queue(std::move(queue)) {}
  const uint64_t id;
  const std::shared_ptr<ReleaseQueue> queue;
  std::atomic<int64_t> value_refs{0};
};

// The owner of one bound reference (ObjectRef::owner on the server).
class RefHolder {
 public:
  explicit RefHolder(std::shared_ptr<RefAnchor> anchor);
  ~RefHolder();
  RefHolder(const RefHolder&) = delete;
  RefHolder& operator=(const RefHolder&) = delete;
  const RefAnchor& anchor() const { return *anchor_; }

 private:
  const std::shared_ptr<RefAnchor> anchor_;
};

struct ObjectSummary {
  uint64_t id = 0;
  Kind kind = Kind::kUnspecified;
  std::string name;
  int64_t session_refs = 0;
  // References stored in values on the server (in objects, or in calls).
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
  // Changes whenever an object or a name comes or goes. While it reads the
  // same, Find gives for an id and name what it gave before: a caller that
  // remembers an answer with the generation read before asking may use the
  // answer again without the registry's lock (FoundObjects).
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Checks that every reference inside value names a live object of the
  // stated kind (ValueError otherwise).
  absl::Status CheckRefs(const Value& value) const;
  // Checks value's references as CheckRefs does and binds each, so that it
  // counts for its target for as long as the value (or a copy) lives. Every
  // value the server stores is bound; value must have no copies yet.
  absl::Status BindRefs(Value& value);

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

  // Frees the objects whose last reference went since the last call, and
  // notes the ones values still refer to as cycle candidates. Returns how
  // many were freed. Its cost is that of the objects it looks at.
  int Reap() ABSL_LOCKS_EXCLUDED(collector_mu_);
  // Frees the cycles among the candidates' reachable objects that nothing
  // outside refers to. With candidates, takes the collector lock for a time
  // that grows with their reachable objects only; without, does not take
  // it. Returns how many were freed.
  int CollectCycles() ABSL_LOCKS_EXCLUDED(collector_mu_);
  // Reap, then CollectCycles, then Reap again, until nothing more goes.
  // Returns how many were freed. One at a time: when it returns, every
  // object released before it was called, and unreachable, is gone.
  int Collect() ABSL_LOCKS_EXCLUDED(collect_mu_, collector_mu_);
  // Whether Reap or CollectCycles has something to look at.
  bool collect_wanted() const;
  // Called when a reference goes (a value dies, a session reference or a
  // name is dropped) and none went since the last Reap took what went
  // before; the housekeeping thread's wake-up. Set before use.
  void set_wake(std::function<void()> wake);

  // Summarises one object, by id or by name when id is 0.
  absl::StatusOr<ObjectSummary> Summarize(uint64_t id, const std::string& name)
      ABSL_LOCKS_EXCLUDED(collector_mu_);
  // Summarises up to limit live objects with ids above after, ordered by id
  // (limit <= 0: every one). Its cost is that of the objects listed.
  std::vector<ObjectSummary> List(uint64_t after = 0, int64_t limit = 0) const;
  size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<Object> object;
    std::string name;
    // Written by AdjustSessionRefsLocked only.
    int64_t session_refs = 0;
    // Made when a reference to the object is first bound.
    std::shared_ptr<RefAnchor> anchor;
  };

  int64_t ValueRefsLocked(const Entry& entry) const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return entry.anchor == nullptr ? 0 : entry.anchor->value_refs.load(std::memory_order_acquire);
  }
  ObjectSummary SummaryLocked(uint64_t id, const Entry& entry) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Removes the entry of id (it must exist), keeping its object in doomed.
  void EraseLocked(uint64_t id, std::vector<std::shared_ptr<Object>>* doomed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);


  // The entry of the object named by id, or by name when id is 0 (found
  // once: the caller reads it through the iterator).
  using EntryIt = absl::flat_hash_map<uint64_t, Entry>::const_iterator;
  absl::StatusOr<EntryIt> ResolveLocked(uint64_t id, const std::string& name) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  // The only writer of the session reference counts, which are kept twice:
  // per object (Entry::session_refs, the collector's roots) and per session
  // (session_refs_, what DropSession gives back). It keeps, for every live
  // object id,
  //   objects_[id].session_refs == sum over s of session_refs_[s][id],
  // with only positive counts in session_refs_ and no empty inner map.
  // Adds delta to session's references to id; a negative delta drops no
  // more than the session holds, and when that leaves an anonymous object
  // without session references, asks Reap to look at it. A no-op for an id
  // that names no object.
  void AdjustSessionRefsLocked(SessionId session, uint64_t id, int64_t delta)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int64_t max_objects_;
  // Held by Collect for its whole run: a Collect that starts while another
  // runs (the core's collector thread, woken by a release) waits for it, so
  // that what was released before it started is gone when it returns, even
  // when the other took it from the queue first (ListObjects' exact counts).
  Mutex collect_mu_;
  Mutex collector_mu_ ABSL_ACQUIRED_AFTER(collect_mu_);
  mutable Mutex mu_ ABSL_ACQUIRED_AFTER(collector_mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, Entry> objects_ ABSL_GUARDED_BY(mu_);
  // The ids of objects_, in order, for listings by page.
  absl::btree_set<uint64_t> ids_ ABSL_GUARDED_BY(mu_);
  // The ids of the synchronization kinds' objects.
  absl::btree_set<uint64_t> sync_ids_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint64_t> names_ ABSL_GUARDED_BY(mu_);
  // Advanced under mu_ as objects_ or names_ gains or loses an entry.
  std::atomic<uint64_t> generation_{0};
  // Each session's references, by object id. Written by
  // AdjustSessionRefsLocked only.
  absl::flat_hash_map<SessionId, absl::flat_hash_map<uint64_t, int64_t>> session_refs_
      ABSL_GUARDED_BY(mu_);
  // Objects left with value references only, for CollectCycles.
  absl::flat_hash_set<uint64_t> candidates_ ABSL_GUARDED_BY(mu_);
  // The objects for Reap to look at: their value references, session
  // references or name went.
  const std::shared_ptr<ReleaseQueue> released_ = std::make_shared<ReleaseQueue>();
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_CORE_REGISTRY_H_
