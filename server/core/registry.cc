#include "server/core/registry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"

namespace shoal::server {

void ReleaseQueue::Push(uint64_t id) {
  std::function<void()> wake;
  {
    MutexLock lock(&mu_);
    // The first id of a batch wakes the consumer, which takes the batch
    // whole: ids pushed before it takes them need no wake of their own.
    if (ids_.empty()) wake = wake_;
    ids_.push_back(id);
  }
  if (wake) wake();
}

std::vector<uint64_t> ReleaseQueue::Take() {
  MutexLock lock(&mu_);
  std::vector<uint64_t> out;
  out.swap(ids_);
  return out;
}

bool ReleaseQueue::empty() const {
  MutexLock lock(&mu_);
  return ids_.empty();
}

void ReleaseQueue::set_wake(std::function<void()> wake) {
  MutexLock lock(&mu_);
  wake_ = std::move(wake);
}

RefHolder::RefHolder(std::shared_ptr<RefAnchor> anchor) : anchor_(std::move(anchor)) {
  anchor_->value_refs.fetch_add(1, std::memory_order_acq_rel);
}

RefHolder::~RefHolder() {
  anchor_->value_refs.fetch_sub(1, std::memory_order_acq_rel);
  anchor_->queue->Push(anchor_->id);
}

Registry::Registry(int64_t max_objects) : max_objects_(max_objects) {}

void Registry::set_wake(std::function<void()> wake) { released_->set_wake(std::move(wake)); }

absl::StatusOr<std::pair<uint64_t, bool>> Registry::Create(SessionId session, Kind kind,
                                                           const std::string& name,
                                                           const Factory& factory) {
  MutexLock lock(&mu_);
  if (!name.empty()) {
    auto it = names_.find(name);
    if (it != names_.end()) {
      Entry& entry = objects_.at(it->second);
      if (entry.object->kind() != kind) {
        return error::TypeError(absl::StrCat("the object named '", name, "' is a ",
                                             KindName(entry.object->kind()), ", not a ",
                                             KindName(kind)));
      }
      AdjustSessionRefsLocked(session, it->second, 1);
      return std::make_pair(it->second, false);
    }
  }
  if (max_objects_ > 0 && static_cast<int64_t>(objects_.size()) >= max_objects_) {
    return error::LimitError(
        absl::StrCat("the server holds its limit of ", max_objects_, " objects"));
  }
  absl::StatusOr<std::unique_ptr<Object>> made = factory();
  if (!made.ok()) return made.status();
  const uint64_t id = next_id_++;
  Entry& entry = objects_[id];
  entry.object = std::shared_ptr<Object>(std::move(*made));
  entry.name = name;
  ids_.insert(id);
  if (IsSyncKind(kind)) sync_ids_.insert(id);
  AdjustSessionRefsLocked(session, id, 1);
  if (!name.empty()) names_[name] = id;
  generation_.fetch_add(1, std::memory_order_release);
  return std::make_pair(id, true);
}

absl::StatusOr<Registry::EntryIt> Registry::ResolveLocked(uint64_t id,
                                                           const std::string& name) const {
  if (id == 0) {
    if (name.empty()) return error::ValueError("no object given: set id or name");
    auto named = names_.find(name);
    if (named == names_.end()) {
      return error::KeyError(absl::StrCat("no object is named '", name, "'"));
    }
    id = named->second;
  }
  auto it = objects_.find(id);
  if (it == objects_.end()) return error::KeyError(absl::StrCat("no object has id ", id));
  return it;
}

absl::StatusOr<std::shared_ptr<Object>> Registry::Find(uint64_t id,
                                                       const std::string& name) const {
  ReaderMutexLock lock(&mu_);
  absl::StatusOr<EntryIt> resolved = ResolveLocked(id, name);
  if (!resolved.ok()) return resolved.status();
  return (*resolved)->second.object;
}

absl::StatusOr<std::shared_ptr<Object>> Registry::Find(uint64_t id, const std::string& name,
                                                       Kind kind) const {
  absl::StatusOr<std::shared_ptr<Object>> found = Find(id, name);
  if (found.ok() && (*found)->kind() != kind) {
    return error::TypeError(absl::StrCat("object ", id == 0 ? name : absl::StrCat(id), " is a ",
                                         KindName((*found)->kind()), ", not a ",
                                         KindName(kind)));
  }
  return found;
}

namespace {

// The references inside a value, gathered before taking the registry's lock.
std::vector<ObjectRef> RefsIn(const Value& value) {
  std::vector<ObjectRef> refs;
  value.ForEachRef([&refs](const ObjectRef& ref) { refs.push_back(ref); });
  return refs;
}

}  // namespace

absl::Status Registry::CheckRefs(const Value& value) const {
  if (!value.contains_ref()) return absl::OkStatus();
  const std::vector<ObjectRef> refs = RefsIn(value);
  ReaderMutexLock lock(&mu_);
  for (const ObjectRef& ref : refs) {
    auto it = objects_.find(ref.id);
    if (it == objects_.end()) {
      return error::ValueError(
          absl::StrCat("reference to object ", ref.id, ", which does not exist"));
    }
    if (it->second.object->kind() != ref.kind) {
      return error::ValueError(absl::StrCat("reference to object ", ref.id, " says ",
                                            KindName(ref.kind), " but it is a ",
                                            KindName(it->second.object->kind())));
    }
  }
  return absl::OkStatus();
}

absl::Status Registry::BindRefs(Value& value) {
  if (!value.contains_ref()) return absl::OkStatus();
  absl::Status checked = CheckRefs(value);
  if (!checked.ok()) return checked;
  std::vector<ObjectRef*> refs;
  value.ForEachRefMutable([&refs](ObjectRef& ref) { refs.push_back(&ref); });
  MutexLock lock(&mu_);
  for (ObjectRef* ref : refs) {
    auto it = objects_.find(ref->id);
    // Gone since the check: the value is refused as if it had been then.
    if (it == objects_.end()) {
      return error::ValueError(
          absl::StrCat("reference to object ", ref->id, ", which does not exist"));
    }
    std::shared_ptr<RefAnchor>& anchor = it->second.anchor;
    if (anchor == nullptr) anchor = std::make_shared<RefAnchor>(ref->id, released_);
    ref->owner = std::make_shared<RefHolder>(anchor);
  }
  return absl::OkStatus();
}

void Registry::RetainRefs(SessionId session, const Value& value) {
  if (!value.contains_ref()) return;
  const std::vector<ObjectRef> refs = RefsIn(value);
  MutexLock lock(&mu_);
  for (const ObjectRef& ref : refs) {
    auto it = objects_.find(ref.id);
    if (it == objects_.end()) continue;
    AdjustSessionRefsLocked(session, ref.id, 1);
  }
}

absl::StatusOr<ObjectRef> Registry::Retain(SessionId session, uint64_t id,
                                           const std::string& name) {
  MutexLock lock(&mu_);
  absl::StatusOr<EntryIt> resolved = ResolveLocked(id, name);
  if (!resolved.ok()) return resolved.status();
  ObjectRef ref;
  ref.id = (*resolved)->first;
  ref.kind = (*resolved)->second.object->kind();
  AdjustSessionRefsLocked(session, ref.id, 1);
  return ref;
}

void Registry::Release(SessionId session, uint64_t id) {
  MutexLock lock(&mu_);
  AdjustSessionRefsLocked(session, id, -1);
}

void Registry::DropSession(SessionId session) {
  MutexLock lock(&mu_);
  auto held = session_refs_.find(session);
  if (held == session_refs_.end()) return;
  // A copy: dropping the last of them erases the session's map.
  const absl::flat_hash_map<uint64_t, int64_t> counts = held->second;
  for (const auto& [id, count] : counts) AdjustSessionRefsLocked(session, id, -count);
}

void Registry::AdjustSessionRefsLocked(SessionId session, uint64_t id, int64_t delta) {
  auto object = objects_.find(id);
  if (delta == 0 || object == objects_.end()) return;
  if (delta > 0) {
    session_refs_[session][id] += delta;
  } else {
    auto held = session_refs_.find(session);
    if (held == session_refs_.end()) return;
    auto counted = held->second.find(id);
    if (counted == held->second.end()) return;
    delta = -std::min(-delta, counted->second);
    if ((counted->second += delta) == 0) held->second.erase(counted);
    if (held->second.empty()) session_refs_.erase(held);
  }
  Entry& entry = object->second;
  entry.session_refs += delta;
  if (entry.session_refs <= 0 && entry.name.empty()) released_->Push(id);
}

std::vector<ObjectSummary> Registry::SyncObjects() const {
  std::vector<ObjectSummary> out;
  {
    ReaderMutexLock lock(&mu_);
    out.reserve(sync_ids_.size());
    for (uint64_t id : sync_ids_) {
      const Entry& entry = objects_.at(id);
      ObjectSummary summary;
      summary.id = id;
      summary.kind = entry.object->kind();
      summary.name = entry.name;
      summary.object = entry.object;
      out.push_back(std::move(summary));
    }
  }
  return out;
}

absl::flat_hash_map<uint64_t, int64_t> Registry::SessionRefs(SessionId session) const {
  ReaderMutexLock lock(&mu_);
  auto held = session_refs_.find(session);
  if (held == session_refs_.end()) return {};
  return held->second;
}

absl::Status Registry::DeleteName(const std::string& name) {
  MutexLock lock(&mu_);
  auto it = names_.find(name);
  if (it == names_.end()) return error::KeyError(absl::StrCat("no object is named '", name, "'"));
  const uint64_t id = it->second;
  objects_.at(id).name.clear();
  names_.erase(it);
  generation_.fetch_add(1, std::memory_order_release);
  released_->Push(id);
  return absl::OkStatus();
}

void Registry::EraseLocked(uint64_t id, std::vector<std::shared_ptr<Object>>* doomed) {
  auto it = objects_.find(id);
  doomed->push_back(std::move(it->second.object));
  objects_.erase(it);
  generation_.fetch_add(1, std::memory_order_release);
  ids_.erase(id);
  sync_ids_.erase(id);
  candidates_.erase(id);
}

int Registry::Reap() {
  int freed = 0;
  // Freeing an object drops the values it held, which may leave more
  // objects without references: go on until the queue stays empty.
  for (std::vector<uint64_t> look = released_->Take(); !look.empty();
       look = released_->Take()) {
    std::vector<std::shared_ptr<Object>> doomed;
    {
      MutexLock lock(&mu_);
      for (uint64_t id : look) {
        auto it = objects_.find(id);
        if (it == objects_.end()) continue;
        const Entry& entry = it->second;
        if (entry.session_refs > 0 || !entry.name.empty()) continue;
        if (ValueRefsLocked(entry) > 0) {
          candidates_.insert(id);
          continue;
        }
        EraseLocked(id, &doomed);
      }
    }
    // Objects are destroyed outside the lock: a large one takes a while, and
    // its destructor returns its bytes to the budget.
    freed += static_cast<int>(doomed.size());
  }
  return freed;
}

int Registry::CollectCycles() {
  {
    // Nothing to look at (the common case: an object dropped by its last
    // session reference is freed by Reap): no exclusive collector lock, which
    // would wait out every call in flight and hold back the calls that come
    // meanwhile. Candidates are added by Reap alone, which Collect runs
    // before this on the same thread.
    ReaderMutexLock lock(&mu_);
    if (candidates_.empty()) return 0;
  }
  std::vector<std::shared_ptr<Object>> doomed;
  {
    MutexLock collector(&collector_mu_);
    MutexLock lock(&mu_);
    if (candidates_.empty()) return 0;
    // The objects reachable from the candidates, each with the bound
    // references to it found inside them (distinct holders: copies of a
    // value share theirs), and the edges between them.
    struct Node {
      int64_t inside = 0;
      std::vector<uint64_t> out;
    };
    absl::flat_hash_map<uint64_t, Node> graph;
    absl::flat_hash_set<const void*> holders;
    std::vector<uint64_t> pending;
    for (uint64_t id : candidates_) {
      if (objects_.contains(id) && graph.try_emplace(id).second) pending.push_back(id);
    }
    candidates_.clear();
    while (!pending.empty()) {
      const uint64_t id = pending.back();
      pending.pop_back();
      const Object& object = *objects_.at(id).object;
      if (!object.may_hold_refs()) continue;
      std::vector<std::pair<uint64_t, const void*>> held;
      object.ForEachRef([&held](const ObjectRef& ref) {
        if (ref.owner != nullptr) held.emplace_back(ref.id, ref.owner.get());
      });
      for (const auto& [target, holder] : held) {
        auto entry = objects_.find(target);
        if (entry == objects_.end() || entry->second.anchor == nullptr) continue;
        // A reference counts once however many objects share the value.
        if (static_cast<const RefHolder*>(holder)->anchor().id != target) continue;
        auto [node, inserted] = graph.try_emplace(target);
        if (holders.insert(holder).second) ++node->second.inside;
        graph.at(id).out.push_back(target);
        if (inserted) pending.push_back(target);
      }
    }
    // What something outside the group refers to lives, and so does what it
    // reaches; the rest refers only to itself.
    std::vector<uint64_t> live;
    for (const auto& [id, node] : graph) {
      const Entry& entry = objects_.at(id);
      if (entry.session_refs > 0 || !entry.name.empty() || ValueRefsLocked(entry) > node.inside) {
        live.push_back(id);
      }
    }
    absl::flat_hash_set<uint64_t> reached(live.begin(), live.end());
    while (!live.empty()) {
      const uint64_t id = live.back();
      live.pop_back();
      for (uint64_t target : graph.at(id).out) {
        if (reached.insert(target).second) live.push_back(target);
      }
    }
    for (const auto& [id, node] : graph) {
      if (!reached.contains(id)) EraseLocked(id, &doomed);
    }
  }
  return static_cast<int>(doomed.size());
}

int Registry::Collect() {
  MutexLock one_at_a_time(&collect_mu_);
  int freed = 0;
  for (;;) {
    // Reap first: it makes the candidates CollectCycles looks at.
    int round = Reap();
    round += CollectCycles();
    if (round == 0) return freed;
    freed += round;
  }
}

bool Registry::collect_wanted() const {
  if (!released_->empty()) return true;
  ReaderMutexLock lock(&mu_);
  return !candidates_.empty();
}

ObjectSummary Registry::SummaryLocked(uint64_t id, const Entry& entry) const {
  ObjectSummary summary;
  summary.id = id;
  summary.kind = entry.object->kind();
  summary.name = entry.name;
  summary.session_refs = entry.session_refs;
  summary.container_refs = ValueRefsLocked(entry);
  summary.object = entry.object;
  return summary;
}

std::vector<ObjectSummary> Registry::List(uint64_t after, int64_t limit) const {
  std::vector<ObjectSummary> out;
  ReaderMutexLock lock(&mu_);
  for (auto it = ids_.upper_bound(after); it != ids_.end(); ++it) {
    if (limit > 0 && static_cast<int64_t>(out.size()) >= limit) break;
    out.push_back(SummaryLocked(*it, objects_.at(*it)));
  }
  return out;
}

absl::StatusOr<ObjectSummary> Registry::Summarize(uint64_t id, const std::string& name) {
  ReaderMutexLock lock(&mu_);
  absl::StatusOr<EntryIt> resolved = ResolveLocked(id, name);
  if (!resolved.ok()) return resolved.status();
  return SummaryLocked((*resolved)->first, (*resolved)->second);
}

size_t Registry::size() const {
  ReaderMutexLock lock(&mu_);
  return objects_.size();
}

}  // namespace shoal::server
