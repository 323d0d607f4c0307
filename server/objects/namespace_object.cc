#include "server/objects/namespace_object.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

absl::Status NoSuchAttr(const std::string& name) {
  return error::AttributeError(absl::StrCat("'Namespace' object has no attribute '", name, "'"));
}

absl::Status CheckName(const std::string& name) {
  if (name.empty()) return error::ValueError("attribute name must not be empty");
  return absl::OkStatus();
}

}  // namespace

int64_t NamespaceObject::AttrBytes(const std::string& name, const Value& value) {
  // ApproxEntryBytes(Value(name), value), without copying the name.
  return static_cast<int64_t>(sizeof(Value)) + static_cast<int64_t>(name.size()) +
         ApproxBytes(value) + kDictEntryOverhead;
}

absl::StatusOr<std::unique_ptr<NamespaceObject>> NamespaceObject::Create(
    MemoryBudget* budget, std::vector<std::pair<std::string, Value>> initial) {
  std::map<std::string, Value> attrs;
  for (auto& [name, value] : initial) {
    absl::Status valid = CheckName(name);
    if (!valid.ok()) return valid;
    attrs.insert_or_assign(std::move(name), std::move(value));
  }
  auto ns = std::make_unique<NamespaceObject>(budget);
  MutexLock lock(&ns->mu_);
  int64_t bytes = 0;
  for (const auto& [name, value] : attrs) bytes += AttrBytes(name, value);
  absl::Status reserved = ns->account_.Reserve(bytes);
  if (!reserved.ok()) return reserved;
  for (const auto& [name, value] : attrs) {
    if (value.contains_ref()) ns->MarkMayHoldRefs();
  }
  ns->attrs_ = std::move(attrs);
  return ns;
}

NamespaceObject::NamespaceObject(MemoryBudget* budget)
    : Object(Kind::kNamespace), account_(budget) {}

absl::StatusOr<Value> NamespaceObject::GetAttr(const std::string& name) const {
  MutexLock lock(&mu_);
  auto it = attrs_.find(name);
  if (it == attrs_.end()) return NoSuchAttr(name);
  return it->second;
}

absl::Status NamespaceObject::SetAttr(std::string name, Value value) {
  absl::Status valid = CheckName(name);
  if (!valid.ok()) return valid;
  MutexLock lock(&mu_);
  auto it = attrs_.find(name);
  const int64_t delta =
      it != attrs_.end() ? ApproxBytes(value) - ApproxBytes(it->second) : AttrBytes(name, value);
  absl::Status reserved = account_.Adjust(delta);
  if (!reserved.ok()) return reserved;
  if (value.contains_ref()) MarkMayHoldRefs();
  if (it != attrs_.end()) {
    it->second = std::move(value);
  } else {
    attrs_.emplace(std::move(name), std::move(value));
  }
  return absl::OkStatus();
}

absl::Status NamespaceObject::DelAttr(const std::string& name) {
  MutexLock lock(&mu_);
  auto it = attrs_.find(name);
  if (it == attrs_.end()) return NoSuchAttr(name);
  account_.Release(AttrBytes(it->first, it->second));
  attrs_.erase(it);
  return absl::OkStatus();
}

std::vector<std::pair<std::string, Value>> NamespaceObject::Attrs() const {
  MutexLock lock(&mu_);
  return std::vector<std::pair<std::string, Value>>(attrs_.begin(), attrs_.end());
}

std::string NamespaceObject::Repr() const {
  std::vector<std::string> parts;
  {
    MutexLock lock(&mu_);
    parts.reserve(attrs_.size());
    for (const auto& [name, value] : attrs_) {
      if (name[0] == '_') continue;
      parts.push_back(absl::StrCat(name, "=", value.repr()));
    }
  }
  std::sort(parts.begin(), parts.end());
  return absl::StrCat("Namespace(", absl::StrJoin(parts, ", "), ")");
}

int64_t NamespaceObject::Size() const {
  MutexLock lock(&mu_);
  return static_cast<int64_t>(attrs_.size());
}

void NamespaceObject::ForEachRef(const std::function<void(const ObjectRef&)>& fn) const {
  MutexLock lock(&mu_);
  for (const auto& [name, value] : attrs_) value.ForEachRef(fn);
}

}  // namespace shoal::server
