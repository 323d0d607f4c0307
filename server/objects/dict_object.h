// DictObject is the shared dict, Python's manager.dict(): entries in
// insertion order with Python's key semantics (1, 1.0 and True are one key;
// lists and dicts are not keys). Every key-taking method rejects an
// unhashable key with TypeError "unhashable type: 'list'"; a missing key is
// KeyError whose message is the key's repr. Every entry stored is charged to
// the server's MemoryBudget first, so a write past the limit fails with
// LimitError and leaves the dict as it was; likewise every other failing call
// changes nothing.
//
// Iterating over the keys (NextKey) is Python's iter(d) on a DictProxy, one
// key per call, with the cursor kept by the caller, not the dict: each step
// costs the same whatever the dict's size, and an iteration the caller
// abandons leaves nothing behind. The dict counts every key it gains or loses
// (its keys stamp), so that a step can tell that the keys changed since the
// step before: RuntimeError "dictionary changed size during iteration" when
// the size differs, as Python's, and "dictionary keys changed during
// iteration" when keys came and went leaving the size as it was (Python may
// then go on, or raise that same error later; shoal always raises).
//
// Thread-safety: every public method is safe to call from any thread; each
// takes the object's own mutex for the whole operation, so each operation
// (Update included) is atomic with respect to the others.
#ifndef SHOAL_SERVER_OBJECTS_DICT_OBJECT_H_
#define SHOAL_SERVER_OBJECTS_DICT_OBJECT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/objects/budget_account.h"
#include "server/objects/memory_budget.h"
#include "server/objects/object.h"
#include "shared/mutex.h"
#include "shoal/value.h"

namespace shoal::server {

class DictObject : public Object {
 public:
  // Where an iteration over the keys stands, between two NextKey calls.
  struct KeyCursor {
    // The key the step before returned; none before the first step.
    std::optional<Value> after;
    // What the step before returned, as the dict stood then: its keys stamp
    // and size, and the position of after in insertion order.
    uint64_t stamp = 0;
    int64_t size = 0;
    int64_t index = 0;
  };
  // What one step of the iteration gives.
  struct KeyStep {
    // The next key; none once every key has been returned (Python's
    // StopIteration).
    std::optional<Value> key;
    // The cursor of the next step (its after is key).
    KeyCursor next;
  };

  // A dict holding `initial`, charged to budget (null: unlimited) before
  // anything is stored: LimitError when the entries do not fit.
  static absl::StatusOr<std::unique_ptr<DictObject>> Create(MemoryBudget* budget,
                                                            Value::Dict initial = {});

  // A dict holding `initial`, whose entries' bytes (ApproxEntryBytes each)
  // the caller has ALREADY reserved from budget (Create does that; an empty
  // dict needs nothing). budget must outlive the dict.
  explicit DictObject(MemoryBudget* budget, Value::Dict initial = {});
  ~DictObject() override = default;

  // d[key]. KeyError when missing.
  absl::StatusOr<Value> GetItem(const Value& key) const;
  // d.get(key, default_value)
  absl::StatusOr<Value> Get(const Value& key, Value default_value) const;
  // d[key] = value. An existing key keeps its position and its first-stored
  // form (d[1] = 'a'; d[1.0] = 'b' leaves {1: 'b'}).
  absl::Status SetItem(Value key, Value value);
  // del d[key]. KeyError when missing.
  absl::Status DelItem(const Value& key);
  // key in d
  absl::StatusOr<bool> Contains(const Value& key) const;
  // d.setdefault(key, value): the value at key, stored first if missing.
  absl::StatusOr<Value> SetDefault(Value key, Value value);
  // d.pop(key[, default_value]): removes and returns the value at key; when
  // missing, default_value, or KeyError without one.
  absl::StatusOr<Value> Pop(const Value& key, std::optional<Value> default_value);
  // d.popitem(): removes and returns the last inserted entry. KeyError
  // "'popitem(): dictionary is empty'" when empty.
  absl::StatusOr<std::pair<Value, Value>> PopItem();
  // d.update(entries), in order (a later duplicate key wins). All or nothing:
  // every key is checked hashable, and the whole growth reserved, first.
  absl::Status Update(std::vector<std::pair<Value, Value>> entries);

  // list(d.keys()), list(d.values()), list(d.items()); in insertion order.
  Value::List Keys() const;
  Value::List Values() const;
  std::vector<std::pair<Value, Value>> Items() const;
  // len(d)
  int64_t Len() const;
  // d.clear(); gives the entries' bytes back to the budget.
  void Clear();
  // d.copy(): the entries as a plain dict.
  Value::Dict Copy() const;
  // next(it) for it = iter(d): the key after cursor.after in insertion order
  // (the first key for a cursor with no after). Errors, as the iteration
  // stands: RuntimeError "dictionary changed size during iteration" when the
  // size is no longer cursor.size; RuntimeError "dictionary keys changed
  // during iteration" when keys were added and removed since (the stamp
  // differs); TypeError for an unhashable after; ValueError when the cursor
  // names no key of the dict. A step finds after through the dict's index,
  // in constant time; only a key unequal to itself (NaN), which no lookup
  // finds, is found by its position instead.
  absl::StatusOr<KeyStep> NextKey(const KeyCursor& cursor) const;

  // Object:
  std::string Repr() const override;  // {'k': 1}
  int64_t Size() const override;      // len(d)
  // Calls fn under the dict's mutex: fn must not call back into this dict.
  void ForEachRef(const std::function<void(const ObjectRef&)>& fn) const override;

 private:
  void NoteRefs(const Value& key, const Value& value);

  mutable Mutex mu_;
  Value::Dict dict_ ABSL_GUARDED_BY(mu_);
  // How many keys the dict has gained and lost, for NextKey: any change to
  // the set of keys moves it, a new value for a key does not.
  uint64_t keys_stamp_ ABSL_GUARDED_BY(mu_) = 0;
  // Holds exactly the sum of ApproxEntryBytes over dict_.
  BudgetAccount account_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_DICT_OBJECT_H_
