#include "server/objects/dict_object.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

// A key held elsewhere, with its hash worked out once.
struct HashedKey {
  const Value* key;
  size_t hash;
};
struct HashedKeyHash {
  size_t operator()(const HashedKey& k) const { return k.hash; }
};
struct HashedKeyEq {
  bool operator()(const HashedKey& a, const HashedKey& b) const {
    return a.hash == b.hash && *a.key == *b.key;
  }
};

// Python's check before any dict lookup.
absl::Status CheckHashable(const Value& key) {
  if (key.hashable()) return absl::OkStatus();
  return error::TypeError(absl::StrCat("unhashable type: '", key.type_name(), "'"));
}

// Python's KeyError carries the key; its message is the key's repr.
absl::Status MissingKey(const Value& key) { return error::KeyError(key.repr()); }

int64_t SumEntryBytes(const Value::Dict& dict) {
  int64_t bytes = 0;
  for (const auto& [key, value] : dict) bytes += ApproxEntryBytes(key, value);
  return bytes;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DictObject>> DictObject::Create(MemoryBudget* budget,
                                                               Value::Dict initial) {
  if (budget != nullptr) {
    absl::Status reserved = budget->Reserve(SumEntryBytes(initial));
    if (!reserved.ok()) return reserved;
  }
  return std::make_unique<DictObject>(budget, std::move(initial));
}

DictObject::DictObject(MemoryBudget* budget, Value::Dict initial)
    : Object(Kind::kDict), dict_(std::move(initial)), account_(budget, SumEntryBytes(dict_)) {
  for (const auto& [key, value] : dict_) NoteRefs(key, value);
}

void DictObject::NoteRefs(const Value& key, const Value& value) {
  if (key.contains_ref() || value.contains_ref()) MarkMayHoldRefs();
}

absl::StatusOr<Value> DictObject::GetItem(const Value& key) const {
  absl::Status hashable = CheckHashable(key);
  if (!hashable.ok()) return hashable;
  MutexLock lock(&mu_);
  const Value* value = dict_.find(key);
  if (value == nullptr) return MissingKey(key);
  return *value;
}

absl::StatusOr<Value> DictObject::Get(const Value& key, Value default_value) const {
  absl::Status hashable = CheckHashable(key);
  if (!hashable.ok()) return hashable;
  MutexLock lock(&mu_);
  const Value* value = dict_.find(key);
  if (value == nullptr) return default_value;
  return *value;
}

absl::Status DictObject::SetItem(Value key, Value value) {
  absl::Status hashable = CheckHashable(key);
  if (!hashable.ok()) return hashable;
  MutexLock lock(&mu_);
  // Equal keys take the same bytes (they are equal numbers, or equal strings
  // or bytes), so replacing a value changes only the value's share.
  const Value* old = dict_.find(key);
  const int64_t delta =
      old != nullptr ? ApproxBytes(value) - ApproxBytes(*old) : ApproxEntryBytes(key, value);
  absl::Status reserved = account_.Adjust(delta);
  if (!reserved.ok()) return reserved;
  NoteRefs(key, value);
  if (dict_.set(std::move(key), std::move(value))) ++keys_stamp_;
  return absl::OkStatus();
}

absl::Status DictObject::DelItem(const Value& key) {
  absl::Status hashable = CheckHashable(key);
  if (!hashable.ok()) return hashable;
  MutexLock lock(&mu_);
  std::optional<Value> value = dict_.take(key);
  if (!value.has_value()) return MissingKey(key);
  ++keys_stamp_;
  account_.Release(ApproxEntryBytes(key, *value));
  return absl::OkStatus();
}

absl::StatusOr<bool> DictObject::Contains(const Value& key) const {
  absl::Status hashable = CheckHashable(key);
  if (!hashable.ok()) return hashable;
  MutexLock lock(&mu_);
  return dict_.contains(key);
}

absl::StatusOr<Value> DictObject::SetDefault(Value key, Value value) {
  absl::Status hashable = CheckHashable(key);
  if (!hashable.ok()) return hashable;
  MutexLock lock(&mu_);
  if (const Value* existing = dict_.find(key); existing != nullptr) return *existing;
  absl::Status reserved = account_.Reserve(ApproxEntryBytes(key, value));
  if (!reserved.ok()) return reserved;
  NoteRefs(key, value);
  dict_.set(std::move(key), value);
  ++keys_stamp_;
  return value;
}

absl::StatusOr<Value> DictObject::Pop(const Value& key, std::optional<Value> default_value) {
  absl::Status hashable = CheckHashable(key);
  if (!hashable.ok()) return hashable;
  MutexLock lock(&mu_);
  std::optional<Value> value = dict_.take(key);
  if (!value.has_value()) {
    if (default_value.has_value()) return *std::move(default_value);
    return MissingKey(key);
  }
  ++keys_stamp_;
  account_.Release(ApproxEntryBytes(key, *value));
  return *std::move(value);
}

absl::StatusOr<std::pair<Value, Value>> DictObject::PopItem() {
  MutexLock lock(&mu_);
  if (dict_.empty()) return error::KeyError("'popitem(): dictionary is empty'");
  std::pair<Value, Value> entry = dict_.pop_last();
  ++keys_stamp_;
  account_.Release(ApproxEntryBytes(entry.first, entry.second));
  return entry;
}

absl::Status DictObject::Update(std::vector<std::pair<Value, Value>> entries) {
  // Each key is hashed once, here, for all the lookups below; with each
  // entry's share were its key new, and its value's alone.
  std::vector<size_t> hashes;
  hashes.reserve(entries.size());
  std::vector<std::pair<int64_t, int64_t>> shares;
  shares.reserve(entries.size());
  int64_t most = 0;
  for (const auto& [key, value] : entries) {
    absl::Status hashable = CheckHashable(key);
    if (!hashable.ok()) return hashable;
    hashes.push_back(key.hash());
    const int64_t value_bytes = ApproxBytes(value);
    shares.emplace_back(ApproxBytes(key) + value_bytes + kDictEntryOverhead, value_bytes);
    most += shares.back().first;
  }
  MutexLock lock(&mu_);
  // Most updates fit what they would take if every key were new: that much
  // is reserved, the entries stored in one pass that works out what they
  // took (each key looked up once), and the rest given back.
  if (account_.Reserve(most).ok()) {
    int64_t took = 0;
    // A large dict's table and entries are mostly out of the cache: each
    // key's table slot is fetched kAhead lookups before its own, and its
    // entry half that.
    constexpr size_t kAhead = 16;
    for (size_t i = 0; i < std::min(kAhead, entries.size()); ++i) dict_.prefetch_index(hashes[i]);
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i + kAhead < entries.size()) dict_.prefetch_index(hashes[i + kAhead]);
      if (i + kAhead / 2 < entries.size()) dict_.prefetch_entry(hashes[i + kAhead / 2]);
      auto& [key, value] = entries[i];
      NoteRefs(key, value);
      bool inserted = false;
      Value* slot = dict_.slot_hashed(key, hashes[i], &inserted);
      if (inserted) {
        took += shares[i].first;
        ++keys_stamp_;
      } else {
        took += shares[i].second - ApproxBytes(*slot);
      }
      *slot = std::move(value);
    }
    // took <= most: a replaced value's share is at most the new value's.
    account_.Release(most - took);
    return absl::OkStatus();
  }
  // Near the limit: works out the net growth before storing anything,
  // following each key through the update: a key already present, or met
  // earlier in the update, changes only its value's share; a new key costs a
  // whole entry. Keys are looked at where they stand in entries, not copied.
  absl::flat_hash_map<HashedKey, int64_t, HashedKeyHash, HashedKeyEq> value_bytes;
  value_bytes.reserve(entries.size());
  int64_t delta = 0;
  size_t new_keys = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& [key, value] = entries[i];
    const int64_t bytes = ApproxBytes(value);
    auto [seen, is_new] = value_bytes.try_emplace(HashedKey{&key, hashes[i]}, bytes);
    if (!is_new) {
      delta += bytes - seen->second;
      seen->second = bytes;
      continue;
    }
    if (const Value* existing = dict_.find_hashed(key, hashes[i]); existing != nullptr) {
      delta += bytes - ApproxBytes(*existing);
    } else {
      delta += ApproxEntryBytes(key, value);
      ++new_keys;
    }
  }
  absl::Status reserved = account_.Adjust(delta);
  if (!reserved.ok()) return reserved;
  // The dict grows once, not step by step as the new keys come.
  dict_.reserve(dict_.size() + new_keys);
  for (size_t i = 0; i < entries.size(); ++i) {
    auto& [key, value] = entries[i];
    NoteRefs(key, value);
    if (dict_.set_hashed(std::move(key), std::move(value), hashes[i])) ++keys_stamp_;
  }
  return absl::OkStatus();
}

Value::List DictObject::Keys() const {
  MutexLock lock(&mu_);
  Value::List keys;
  keys.reserve(dict_.size());
  for (const auto& entry : dict_) keys.push_back(entry.first);
  return keys;
}

Value::List DictObject::Values() const {
  MutexLock lock(&mu_);
  Value::List values;
  values.reserve(dict_.size());
  for (const auto& entry : dict_) values.push_back(entry.second);
  return values;
}

std::vector<std::pair<Value, Value>> DictObject::Items() const {
  MutexLock lock(&mu_);
  return std::vector<std::pair<Value, Value>>(dict_.begin(), dict_.end());
}

int64_t DictObject::Len() const {
  MutexLock lock(&mu_);
  return static_cast<int64_t>(dict_.size());
}

void DictObject::Clear() {
  MutexLock lock(&mu_);
  if (!dict_.empty()) ++keys_stamp_;
  dict_.clear();
  account_.ReleaseAll();
}

Value::Dict DictObject::Copy() const {
  MutexLock lock(&mu_);
  return dict_;
}

absl::StatusOr<DictObject::KeyStep> DictObject::NextKey(const KeyCursor& cursor) const {
  if (cursor.after.has_value()) {
    absl::Status hashable = CheckHashable(*cursor.after);
    if (!hashable.ok()) return hashable;
  }
  MutexLock lock(&mu_);
  const int64_t size = static_cast<int64_t>(dict_.size());
  KeyStep step;
  step.next = cursor;
  step.next.stamp = keys_stamp_;
  step.next.size = size;
  Value::Dict::const_iterator next = dict_.begin();
  if (cursor.after.has_value()) {
    // Python's order of checks: the size first.
    if (size != cursor.size) return error::RuntimeError("dictionary changed size during iteration");
    if (keys_stamp_ != cursor.stamp) {
      return error::RuntimeError("dictionary keys changed during iteration");
    }
    const Value& after = *cursor.after;
    Value::Dict::const_iterator at = dict_.find_entry(after);
    if (at == dict_.end() && !(after == after) && cursor.index >= 0 && cursor.index < size) {
      // No lookup finds a key unequal to itself, but no key came or went
      // since the step before, so it is still where that step saw it.
      at = std::next(dict_.begin(), cursor.index);
      if (at->first == at->first) at = dict_.end();
    }
    if (at == dict_.end()) {
      return error::ValueError("the iteration's cursor names no key of the dict");
    }
    next = std::next(at);
    if (next == dict_.end()) return step;
    step.next.index = cursor.index + 1;
  } else {
    if (next == dict_.end()) return step;
    step.next.index = 0;
  }
  step.key = next->first;
  step.next.after = next->first;
  return step;
}

std::string DictObject::Repr() const {
  MutexLock lock(&mu_);
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : dict_) {
    if (!first) out += ", ";
    first = false;
    absl::StrAppend(&out, key.repr(), ": ", value.repr());
  }
  out += "}";
  return out;
}

int64_t DictObject::Size() const { return Len(); }

void DictObject::ForEachRef(const std::function<void(const ObjectRef&)>& fn) const {
  MutexLock lock(&mu_);
  for (const auto& [key, value] : dict_) {
    key.ForEachRef(fn);
    value.ForEachRef(fn);
  }
}

}  // namespace shoal::server
