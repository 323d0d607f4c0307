#include "server/core/registry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"

namespace shoal::server {

Registry::Registry(int64_t max_objects) : max_objects_(max_objects) {}

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
  AdjustSessionRefsLocked(session, id, 1);
  if (!name.empty()) names_[name] = id;
  return std::make_pair(id, true);
}

absl::StatusOr<uint64_t> Registry::ResolveLocked(uint64_t id, const std::string& name) const {
  if (id == 0) {
    if (name.empty()) return error::ValueError("no object given: set id or name");
    auto named = names_.find(name);
    if (named == names_.end()) {
      return error::KeyError(absl::StrCat("no object is named '", name, "'"));
    }
    return named->second;
  }
  if (!objects_.contains(id)) return error::KeyError(absl::StrCat("no object has id ", id));
  return id;
}

absl::StatusOr<std::shared_ptr<Object>> Registry::Find(uint64_t id,
                                                       const std::string& name) const {
  ReaderMutexLock lock(&mu_);
  absl::StatusOr<uint64_t> resolved = ResolveLocked(id, name);
  if (!resolved.ok()) return resolved.status();
  return objects_.at(*resolved).object;
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
  absl::StatusOr<uint64_t> resolved = ResolveLocked(id, name);
  if (!resolved.ok()) return resolved.status();
  id = *resolved;
  auto it = objects_.find(id);
  AdjustSessionRefsLocked(session, id, 1);
  ObjectRef ref;
  ref.id = id;
  ref.kind = it->second.object->kind();
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
  if (entry.session_refs <= 0 && entry.name.empty()) collect_wanted_ = true;
}

std::vector<ObjectSummary> Registry::SyncObjects() const {
  std::vector<ObjectSummary> out;
  {
    ReaderMutexLock lock(&mu_);
    for (const auto& [id, entry] : objects_) {
      if (!IsSyncKind(entry.object->kind())) continue;
      ObjectSummary summary;
      summary.id = id;
      summary.kind = entry.object->kind();
      summary.name = entry.name;
      summary.object = entry.object;
      out.push_back(std::move(summary));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const ObjectSummary& a, const ObjectSummary& b) { return a.id < b.id; });
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
  objects_.at(it->second).name.clear();
  names_.erase(it);
  collect_wanted_ = true;
  return absl::OkStatus();
}

absl::flat_hash_map<uint64_t, int64_t> Registry::Mark() const {
  // The value is how many references live objects hold to the key; every
  // reachable object has an entry, possibly zero.
  absl::flat_hash_map<uint64_t, int64_t> reached;
  std::vector<uint64_t> pending;
  for (const auto& [id, entry] : objects_) {
    if (!entry.name.empty() || entry.session_refs > 0) {
      reached.emplace(id, 0);
      pending.push_back(id);
    }
  }
  while (!pending.empty()) {
    const uint64_t id = pending.back();
    pending.pop_back();
    const Object& object = *objects_.at(id).object;
    if (!object.may_hold_refs()) continue;
    std::vector<uint64_t> held;
    object.ForEachRef([&held](const ObjectRef& ref) { held.push_back(ref.id); });
    for (uint64_t target : held) {
      if (objects_.find(target) == objects_.end()) continue;
      auto [it, inserted] = reached.emplace(target, 0);
      ++it->second;
      if (inserted) pending.push_back(target);
    }
  }
  // References from unreachable objects do not count: they are about to go.
  return reached;
}

int Registry::Collect() {
  std::vector<std::shared_ptr<Object>> doomed;
  {
    MutexLock collector(&collector_mu_);
    MutexLock lock(&mu_);
    collect_wanted_ = false;
    absl::flat_hash_map<uint64_t, int64_t> reached = Mark();
    for (auto it = objects_.begin(); it != objects_.end();) {
      if (reached.contains(it->first)) {
        ++it;
        continue;
      }
      doomed.push_back(std::move(it->second.object));
      objects_.erase(it++);
    }
  }
  // Objects are destroyed outside the locks: a large one takes a while, and
  // its destructor returns its bytes to the budget.
  const int freed = static_cast<int>(doomed.size());
  doomed.clear();
  return freed;
}

bool Registry::collect_wanted() const {
  ReaderMutexLock lock(&mu_);
  return collect_wanted_;
}

std::vector<ObjectSummary> Registry::List() {
  Collect();
  std::vector<ObjectSummary> out;
  {
    ReaderMutexLock collector(&collector_mu_);
    ReaderMutexLock lock(&mu_);
    absl::flat_hash_map<uint64_t, int64_t> reached = Mark();
    out.reserve(objects_.size());
    for (const auto& [id, entry] : objects_) {
      ObjectSummary summary;
      summary.id = id;
      summary.kind = entry.object->kind();
      summary.name = entry.name;
      summary.session_refs = entry.session_refs;
      auto r = reached.find(id);
      summary.container_refs = r == reached.end() ? 0 : r->second;
      summary.object = entry.object;
      out.push_back(std::move(summary));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const ObjectSummary& a, const ObjectSummary& b) { return a.id < b.id; });
  return out;
}

absl::StatusOr<ObjectSummary> Registry::Summarize(uint64_t id, const std::string& name) {
  ReaderMutexLock collector(&collector_mu_);
  ReaderMutexLock lock(&mu_);
  absl::StatusOr<uint64_t> resolved = ResolveLocked(id, name);
  if (!resolved.ok()) return resolved.status();
  id = *resolved;
  auto it = objects_.find(id);
  ObjectSummary summary;
  summary.id = id;
  summary.kind = it->second.object->kind();
  summary.name = it->second.name;
  summary.session_refs = it->second.session_refs;
  absl::flat_hash_map<uint64_t, int64_t> reached = Mark();
  auto r = reached.find(id);
  summary.container_refs = r == reached.end() ? 0 : r->second;
  summary.object = it->second.object;
  return summary;
}

size_t Registry::size() const {
  ReaderMutexLock lock(&mu_);
  return objects_.size();
}

}  // namespace shoal::server
