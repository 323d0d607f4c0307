// ListObject is the shared list, Python's manager.list(): a sequence of
// Values with the operations and error messages of Python's list, including
// negative indexes and extended slices. Every value stored is charged to the
// server's MemoryBudget first, so a write past the limit fails with
// LimitError and leaves the list as it was; likewise every other failing call
// changes nothing.
//
// Thread-safety: every public method is safe to call from any thread; each
// takes the object's own mutex for the whole operation, so each operation is
// atomic with respect to the others.
#ifndef SHOAL_SERVER_OBJECTS_LIST_OBJECT_H_
#define SHOAL_SERVER_OBJECTS_LIST_OBJECT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/objects/block_vector.h"
#include "server/objects/budget_account.h"
#include "server/objects/memory_budget.h"
#include "server/objects/object.h"
#include "shared/mutex.h"
#include "shoal/value.h"

namespace shoal::server {

class ListObject : public Object {
 public:
  // A list holding `initial`, charged to budget (null: unlimited) before
  // anything is stored: LimitError when the items do not fit.
  static absl::StatusOr<std::unique_ptr<ListObject>> Create(MemoryBudget* budget,
                                                            Value::List initial = {});

  // A list holding `initial`, whose ApproxBytes the caller has ALREADY
  // reserved from budget (Create does that; an empty list needs nothing). The
  // list releases those bytes when it drops the items. budget must outlive
  // the list.
  explicit ListObject(MemoryBudget* budget, Value::List initial = {});
  ~ListObject() override = default;

  // How the items are stored: in blocks, so that a long list grows without
  // moving them.
  using Items = BlockVector<Value>;

  // lst.append(item). LimitError when over budget.
  absl::Status Append(Value item);
  // lst.extend(items) and lst += items: all or nothing.
  absl::Status Extend(Value::List items);
  // The same with the items appended by append(&items) itself, in place
  // (no list of them made first), under the list's lock: it must append
  // plain values only (no reference) at the end of items, and must not call
  // into the server.
  // When it returns false (an item it cannot build), what it appended is
  // taken back and nothing is changed: the result is then nullopt.
  std::optional<absl::Status> ExtendInPlace(absl::FunctionRef<bool(Items*)> append);
  // lst.insert(index, item): a negative index counts from the end; an index
  // past either end inserts at that end.
  absl::Status Insert(int64_t index, Value item);
  // lst.pop(index), the last item when unset. IndexError "pop from empty
  // list" or "pop index out of range".
  absl::StatusOr<Value> Pop(std::optional<int64_t> index);
  // lst.remove(item): removes the first item equal to item. ValueError
  // "list.remove(x): x not in list" when there is none.
  absl::Status Remove(const Value& item);
  // lst.index(item, start, stop): the position of the first equal item in
  // lst[start:stop] (bounds clamped as Python does, negatives from the end).
  // ValueError "<repr> is not in list" when there is none.
  absl::StatusOr<int64_t> Index(const Value& item, std::optional<int64_t> start,
                                std::optional<int64_t> stop) const;
  // lst.count(item): how many items equal item.
  int64_t Count(const Value& item) const;
  // lst.reverse(), in place.
  void Reverse();
  // lst.sort(reverse=reverse): stable in both directions (equal items keep
  // their order, as Python's reverse sort does), in Value::Compare's order.
  // When two items do not compare, TypeError "'<' not supported between
  // instances of 'str' and 'int'" and the list is left unchanged.
  absl::Status Sort(bool reverse);

  // lst[index]. IndexError "list index out of range".
  absl::StatusOr<Value> GetItem(int64_t index) const;
  // lst[index] = item. IndexError "list assignment index out of range".
  absl::Status SetItem(int64_t index, Value item);
  // del lst[index]. IndexError "list assignment index out of range".
  absl::Status DelItem(int64_t index);

  // lst[start:stop:step]; unset means None. ValueError when step is zero.
  absl::StatusOr<Value::List> GetSlice(std::optional<int64_t> start, std::optional<int64_t> stop,
                                       std::optional<int64_t> step) const;
  // lst[start:stop:step] = items. With step 1 (or unset) the selected range,
  // possibly empty, is replaced by any number of items; a stop before start
  // inserts at start. With another step, items must be exactly as many as the
  // slice selects: ValueError "attempt to assign sequence of size 2 to
  // extended slice of size 3" otherwise.
  absl::Status SetSlice(std::optional<int64_t> start, std::optional<int64_t> stop,
                        std::optional<int64_t> step, Value::List items);
  // del lst[start:stop:step].
  absl::Status DelSlice(std::optional<int64_t> start, std::optional<int64_t> stop,
                        std::optional<int64_t> step);

  // len(lst)
  int64_t Len() const;
  // item in lst
  bool Contains(const Value& item) const;
  // lst.clear(); gives the items' bytes back to the budget.
  void Clear();
  // lst.copy(): the items as a plain list.
  Value::List Copy() const;
  // lst *= count: count <= 0 empties the list, 1 leaves it. LimitError when
  // the copies do not fit the budget (or could not be counted at all).
  absl::Status Repeat(int64_t count);

  // Object:
  std::string Repr() const override;  // [1, 'a']
  int64_t Size() const override;      // len(lst)
  // Calls fn under the list's mutex: fn must not call back into this list.
  void ForEachRef(const std::function<void(const ObjectRef&)>& fn) const override;

 private:
  // Marks the object when any of items holds a reference.
  void NoteRefs(const Value::List& items);
  void NoteRefs(const Value& item);

  mutable Mutex mu_;
  Items items_ ABSL_GUARDED_BY(mu_);
  // Holds exactly the sum of ApproxBytes over items_.
  BudgetAccount account_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_LIST_OBJECT_H_
