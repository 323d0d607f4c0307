// ValueObject is the shared Value, Python's manager.Value(typecode, value),
// with the typecode enforced (Python's manager stores anything) and with the
// atomic read-modify-write operations Python users fake with a Lock: Add and
// CompareAndSwap.
//
// Typecodes: "" holds any value. The integer codes b B h H i I l L q Q hold an
// int within the C type's range (LP64: l and q are int64; the unsigned L and Q
// stop at INT64_MAX, the largest int a Value holds); a bool is accepted and
// stored as an int. "f" and "d" hold a number, stored as a float. "?" holds a
// bool, "u" a str, "c" bytes of length 1. A value of the wrong type is
// TypeError; an int out of range is OverflowError "300 is out of range for
// typecode 'b'", as Python's array module says; an unknown typecode is
// ValueError. A failing call changes nothing.
//
// Thread-safety: every public method is safe to call from any thread; each
// takes the object's own mutex, so Add and CompareAndSwap are atomic.
#ifndef SHOAL_SERVER_OBJECTS_VALUE_OBJECT_H_
#define SHOAL_SERVER_OBJECTS_VALUE_OBJECT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/objects/budget_account.h"
#include "server/objects/memory_budget.h"
#include "server/objects/object.h"
#include "shared/mutex.h"
#include "shoal/value.h"

namespace shoal::server {

class ValueObject : public Object {
 public:
  // A Value of the given typecode holding initial (converted as Set does),
  // charged to budget (null: unlimited) first. budget must outlive it.
  static absl::StatusOr<std::unique_ptr<ValueObject>> Create(MemoryBudget* budget,
                                                             std::string typecode, Value initial);
  ~ValueObject() override = default;

  // The typecode given at creation; "" for any type.
  const std::string& typecode() const { return typecode_; }

  // v.value
  Value Get() const;
  // v.value = value, checked against the typecode.
  absl::Status Set(Value value);
  // Atomically v.value += delta; returns the new value. delta must be a
  // number (bool, int or float) and so must the value held, else TypeError.
  // Two ints add in int64: OverflowError "integer overflow" past it. A float on
  // either side makes a float, which an integer typecode refuses (TypeError).
  // A bool adds as an int (True + 1 == 2). The sum must fit the typecode.
  absl::StatusOr<Value> Add(const Value& delta);
  // Atomically: if v.value == expected (Python's ==, so 1 == 1.0), v.value =
  // desired. Returns whether it swapped and the value after the call.
  // desired is checked against the typecode whether or not it would swap.
  absl::StatusOr<std::pair<bool, Value>> CompareAndSwap(const Value& expected, Value desired);

  // Object:
  std::string Repr() const override;  // Value('i', 5); Value(None, 5) for "".
  int64_t Size() const override;      // 1: the one value held.
  // Calls fn under the object's mutex: fn must not call back into it.
  void ForEachRef(const std::function<void(const ObjectRef&)>& fn) const override;

 private:
  // What a typecode admits: the type, and for ints the range.
  enum class Accepts { kAny, kInt, kFloat, kBool, kStr, kChar };
  struct Rule {
    Accepts accepts = Accepts::kAny;
    int64_t min = 0;
    int64_t max = 0;
  };
  // The rule of a typecode; ValueError for an unknown one.
  static absl::StatusOr<Rule> RuleFor(const std::string& typecode);

  ValueObject(MemoryBudget* budget, std::string typecode, Rule rule, Value value);

  // The value as the typecode stores it, or the TypeError / ValueError.
  absl::StatusOr<Value> Convert(Value value) const;
  // Stores value (already converted), charging the size difference first.
  absl::Status Store(Value value) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string typecode_;
  const Rule rule_;
  mutable Mutex mu_;
  Value value_ ABSL_GUARDED_BY(mu_);
  // Holds exactly ApproxBytes(value_).
  BudgetAccount account_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_VALUE_OBJECT_H_
