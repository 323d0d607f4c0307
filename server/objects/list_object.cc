#include "server/objects/list_object.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/objects/slice.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

template <typename It>
int64_t SumBytes(It begin, It end) {
  int64_t bytes = 0;
  for (auto it = begin; it != end; ++it) bytes += ApproxBytes(*it);
  return bytes;
}

template <typename Items>
int64_t SumBytes(const Items& items) {
  return SumBytes(items.begin(), items.end());
}

// Python's item index: a negative index counts from the end. nullopt when the
// index is outside the list.
std::optional<size_t> ItemIndex(int64_t index, size_t size) {
  const int64_t length = static_cast<int64_t>(size);
  if (index < 0) index += length;  // Cannot overflow: index < 0 <= length.
  if (index < 0 || index >= length) return std::nullopt;
  return static_cast<size_t>(index);
}

// Python's clamping of an insertion point or a search bound: a negative value
// counts from the end, and the result is clamped into [0, size].
size_t ClampPosition(int64_t position, size_t size) {
  const int64_t length = static_cast<int64_t>(size);
  if (position < 0) position = std::max<int64_t>(position + length, 0);
  return static_cast<size_t>(std::min(position, length));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ListObject>> ListObject::Create(MemoryBudget* budget,
                                                               Value::List initial) {
  const int64_t bytes = SumBytes(initial);
  if (budget != nullptr) {
    absl::Status reserved = budget->Reserve(bytes);
    if (!reserved.ok()) return reserved;
  }
  return std::make_unique<ListObject>(budget, std::move(initial));
}

ListObject::ListObject(MemoryBudget* budget, Value::List initial)
    : Object(Kind::kList), account_(budget, SumBytes(initial)) {
  NoteRefs(initial);
  items_ = Items(std::move(initial));
}

void ListObject::NoteRefs(const Value& item) {
  if (item.contains_ref()) MarkMayHoldRefs();
}

void ListObject::NoteRefs(const Value::List& items) {
  for (const Value& item : items) {
    if (item.contains_ref()) {
      MarkMayHoldRefs();
      return;
    }
  }
}

absl::Status ListObject::Append(Value item) {
  MutexLock lock(&mu_);
  absl::Status reserved = account_.Reserve(ApproxBytes(item));
  if (!reserved.ok()) return reserved;
  NoteRefs(item);
  items_.push_back(std::move(item));
  return absl::OkStatus();
}

absl::Status ListObject::Extend(Value::List items) {
  MutexLock lock(&mu_);
  absl::Status reserved = account_.Reserve(SumBytes(items));
  if (!reserved.ok()) return reserved;
  NoteRefs(items);
  items_.insert(items_.end(), std::make_move_iterator(items.begin()),
                std::make_move_iterator(items.end()));
  return absl::OkStatus();
}

std::optional<absl::Status> ListObject::ExtendInPlace(
    absl::FunctionRef<bool(Items*)> append) {
  MutexLock lock(&mu_);
  const size_t before = items_.size();
  const auto take_back = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(before), items_.end());
  };
  if (!append(&items_)) {
    take_back();
    return std::nullopt;
  }
  const auto added = items_.begin() + static_cast<std::ptrdiff_t>(before);
  absl::Status reserved = account_.Reserve(SumBytes(added, items_.end()));
  if (!reserved.ok()) {
    take_back();
    return reserved;
  }
  return absl::OkStatus();
}

absl::Status ListObject::Insert(int64_t index, Value item) {
  MutexLock lock(&mu_);
  absl::Status reserved = account_.Reserve(ApproxBytes(item));
  if (!reserved.ok()) return reserved;
  NoteRefs(item);
  const size_t at = ClampPosition(index, items_.size());
  items_.insert(items_.begin() + static_cast<std::ptrdiff_t>(at), std::move(item));
  return absl::OkStatus();
}

absl::StatusOr<Value> ListObject::Pop(std::optional<int64_t> index) {
  MutexLock lock(&mu_);
  if (items_.empty()) return error::IndexError("pop from empty list");
  const std::optional<size_t> at = ItemIndex(index.value_or(-1), items_.size());
  if (!at.has_value()) return error::IndexError("pop index out of range");
  Value item = std::move(items_[*at]);
  items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(*at));
  account_.Release(ApproxBytes(item));
  return item;
}

absl::Status ListObject::Remove(const Value& item) {
  MutexLock lock(&mu_);
  auto it = std::find(items_.begin(), items_.end(), item);
  if (it == items_.end()) return error::ValueError("list.remove(x): x not in list");
  account_.Release(ApproxBytes(*it));
  items_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ListObject::Index(const Value& item, std::optional<int64_t> start,
                                          std::optional<int64_t> stop) const {
  MutexLock lock(&mu_);
  const size_t begin = ClampPosition(start.value_or(0), items_.size());
  const size_t end =
      ClampPosition(stop.value_or(std::numeric_limits<int64_t>::max()), items_.size());
  for (size_t i = begin; i < end; ++i) {
    if (items_[i] == item) return static_cast<int64_t>(i);
  }
  return error::ValueError(absl::StrCat(item.repr(), " is not in list"));
}

int64_t ListObject::Count(const Value& item) const {
  MutexLock lock(&mu_);
  return std::count(items_.begin(), items_.end(), item);
}

void ListObject::Reverse() {
  MutexLock lock(&mu_);
  std::reverse(items_.begin(), items_.end());
}

absl::Status ListObject::Sort(bool reverse) {
  MutexLock lock(&mu_);
  // Sorts positions rather than the items, so that a failed comparison can
  // leave the list untouched. The comparator reaches the items through a
  // pointer because the analysis cannot see that the lambda runs under mu_.
  const Items* const items = &items_;
  std::vector<size_t> order(items->size());
  std::iota(order.begin(), order.end(), size_t{0});
  const Value* failed_left = nullptr;
  const Value* failed_right = nullptr;
  // "a goes before b". For a reverse sort that is b < a, which keeps equal
  // items in their order, as Python's reverse sort does; either way the
  // comparison is made as Python would make it, for the error message.
  auto before = [&](size_t a, size_t b) {
    if (failed_left != nullptr) return false;  // Finish quickly; the result is dropped.
    const Value& left = (*items)[reverse ? b : a];
    const Value& right = (*items)[reverse ? a : b];
    const std::optional<int> compared = Value::Compare(left, right);
    if (!compared.has_value()) {
      failed_left = &left;
      failed_right = &right;
      return false;
    }
    return *compared < 0;
  };
  std::stable_sort(order.begin(), order.end(), before);
  if (failed_left != nullptr) {
    return error::TypeError(absl::StrCat("'<' not supported between instances of '",
                                         failed_left->type_name(), "' and '",
                                         failed_right->type_name(), "'"));
  }
  Value::List sorted;
  sorted.reserve(order.size());
  for (size_t i : order) sorted.push_back(std::move(items_[i]));
  for (size_t i = 0; i < sorted.size(); ++i) items_[i] = std::move(sorted[i]);
  return absl::OkStatus();
}

absl::StatusOr<Value> ListObject::GetItem(int64_t index) const {
  MutexLock lock(&mu_);
  const std::optional<size_t> at = ItemIndex(index, items_.size());
  if (!at.has_value()) return error::IndexError("list index out of range");
  return items_[*at];
}

absl::Status ListObject::SetItem(int64_t index, Value item) {
  MutexLock lock(&mu_);
  const std::optional<size_t> at = ItemIndex(index, items_.size());
  if (!at.has_value()) return error::IndexError("list assignment index out of range");
  absl::Status reserved = account_.Adjust(ApproxBytes(item) - ApproxBytes(items_[*at]));
  if (!reserved.ok()) return reserved;
  NoteRefs(item);
  items_[*at] = std::move(item);
  return absl::OkStatus();
}

absl::Status ListObject::DelItem(int64_t index) {
  MutexLock lock(&mu_);
  const std::optional<size_t> at = ItemIndex(index, items_.size());
  if (!at.has_value()) return error::IndexError("list assignment index out of range");
  account_.Release(ApproxBytes(items_[*at]));
  items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(*at));
  return absl::OkStatus();
}

absl::StatusOr<Value::List> ListObject::GetSlice(std::optional<int64_t> start,
                                                 std::optional<int64_t> stop,
                                                 std::optional<int64_t> step) const {
  MutexLock lock(&mu_);
  absl::StatusOr<ResolvedSlice> slice =
      ResolveSlice(start, stop, step, static_cast<int64_t>(items_.size()));
  if (!slice.ok()) return slice.status();
  Value::List result;
  result.reserve(static_cast<size_t>(slice->count));
  for (int64_t i = 0; i < slice->count; ++i) {
    result.push_back(items_[static_cast<size_t>(slice->IndexAt(i))]);
  }
  return result;
}

absl::Status ListObject::SetSlice(std::optional<int64_t> start, std::optional<int64_t> stop,
                                  std::optional<int64_t> step, Value::List items) {
  MutexLock lock(&mu_);
  absl::StatusOr<ResolvedSlice> slice =
      ResolveSlice(start, stop, step, static_cast<int64_t>(items_.size()));
  if (!slice.ok()) return slice.status();

  if (slice->step == 1) {
    // A simple slice: the range [start, stop) is replaced, whatever the
    // number of items; an empty range (stop before start) inserts at start.
    const auto begin = items_.begin() + static_cast<std::ptrdiff_t>(slice->start);
    const auto end =
        items_.begin() + static_cast<std::ptrdiff_t>(std::max(slice->start, slice->stop));
    absl::Status reserved = account_.Adjust(SumBytes(items) - SumBytes(begin, end));
    if (!reserved.ok()) return reserved;
    NoteRefs(items);
    const auto at = items_.erase(begin, end);
    items_.insert(at, std::make_move_iterator(items.begin()), std::make_move_iterator(items.end()));
    return absl::OkStatus();
  }

  if (static_cast<int64_t>(items.size()) != slice->count) {
    return error::ValueError(absl::StrCat("attempt to assign sequence of size ", items.size(),
                                          " to extended slice of size ", slice->count));
  }
  int64_t old_bytes = 0;
  for (int64_t i = 0; i < slice->count; ++i) {
    old_bytes += ApproxBytes(items_[static_cast<size_t>(slice->IndexAt(i))]);
  }
  absl::Status reserved = account_.Adjust(SumBytes(items) - old_bytes);
  if (!reserved.ok()) return reserved;
  NoteRefs(items);
  for (int64_t i = 0; i < slice->count; ++i) {
    items_[static_cast<size_t>(slice->IndexAt(i))] = std::move(items[static_cast<size_t>(i)]);
  }
  return absl::OkStatus();
}

absl::Status ListObject::DelSlice(std::optional<int64_t> start, std::optional<int64_t> stop,
                                  std::optional<int64_t> step) {
  MutexLock lock(&mu_);
  absl::StatusOr<ResolvedSlice> slice =
      ResolveSlice(start, stop, step, static_cast<int64_t>(items_.size()));
  if (!slice.ok()) return slice.status();
  if (slice->count == 0) return absl::OkStatus();

  if (slice->step == 1) {
    const auto begin = items_.begin() + static_cast<std::ptrdiff_t>(slice->start);
    const auto end = begin + static_cast<std::ptrdiff_t>(slice->count);
    account_.Release(SumBytes(begin, end));
    items_.erase(begin, end);
    return absl::OkStatus();
  }

  std::vector<bool> doomed(items_.size(), false);
  int64_t bytes = 0;
  for (int64_t i = 0; i < slice->count; ++i) {
    const size_t at = static_cast<size_t>(slice->IndexAt(i));
    doomed[at] = true;
    bytes += ApproxBytes(items_[at]);
  }
  size_t kept = 0;
  for (size_t i = 0; i < items_.size(); ++i) {
    if (doomed[i]) continue;
    if (kept != i) items_[kept] = std::move(items_[i]);
    ++kept;
  }
  items_.resize(kept);
  account_.Release(bytes);
  return absl::OkStatus();
}

int64_t ListObject::Len() const {
  MutexLock lock(&mu_);
  return static_cast<int64_t>(items_.size());
}

bool ListObject::Contains(const Value& item) const {
  MutexLock lock(&mu_);
  return std::find(items_.begin(), items_.end(), item) != items_.end();
}

void ListObject::Clear() {
  MutexLock lock(&mu_);
  items_.clear_keeping_room();
  account_.ReleaseAll();
}

Value::List ListObject::Copy() const {
  MutexLock lock(&mu_);
  return Value::List(items_.begin(), items_.end());
}

absl::Status ListObject::Repeat(int64_t count) {
  MutexLock lock(&mu_);
  if (count <= 0) {
    items_.clear_keeping_room();
    account_.ReleaseAll();
    return absl::OkStatus();
  }
  if (count == 1 || items_.empty()) return absl::OkStatus();

  const int64_t length = static_cast<int64_t>(items_.size());
  const int64_t max_length = static_cast<int64_t>(
      std::min<size_t>(items_.max_size(), std::numeric_limits<int64_t>::max()));
  // Each copy costs what the list holds now; the account holds exactly that.
  const int64_t copies = count - 1;
  if (length > max_length / count ||
      account_.held() > std::numeric_limits<int64_t>::max() / copies) {
    return error::LimitError(
        absl::StrCat("cannot repeat a list of ", length, " items ", count, " times: too large"));
  }
  absl::Status reserved = account_.Reserve(account_.held() * copies);
  if (!reserved.ok()) return reserved;
  items_.reserve(static_cast<size_t>(length * count));
  for (int64_t copy = 0; copy < copies; ++copy) {
    for (int64_t i = 0; i < length; ++i) items_.push_back(items_[static_cast<size_t>(i)]);
  }
  return absl::OkStatus();
}

std::string ListObject::Repr() const {
  MutexLock lock(&mu_);
  std::string out = "[";
  for (size_t i = 0; i < items_.size(); ++i) {
    if (i > 0) out += ", ";
    out += items_[i].repr();
  }
  out += "]";
  return out;
}

int64_t ListObject::Size() const { return Len(); }

void ListObject::ForEachRef(const std::function<void(const ObjectRef&)>& fn) const {
  MutexLock lock(&mu_);
  for (const Value& item : items_) item.ForEachRef(fn);
}

}  // namespace shoal::server
