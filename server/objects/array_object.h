// ArrayObject is the shared Array, Python's multiprocessing Array(typecode,
// size_or_initializer) as a manager serves it: a fixed number of items of one
// C type, stored as that type (length * itemsize bytes, not a list of Values),
// with every item read or written under the object's mutex.
//
// Typecodes are those of Python's array module, with the sizes Python uses on
// Linux x86-64: b B (1 byte), h H (2), i I (4), l L q Q (8) hold ints within
// the C type's range (the unsigned L and Q stop at INT64_MAX, the largest int
// a Value holds), and take a bool as an int; f (float32) and d (double) take
// any number and give floats back, f rounded to float32 as ctypes' c_float
// does; u (wchar_t, 4 bytes) holds one unicode character, a str of length 1.
// A value of another type is TypeError, an int out of the type's range
// OverflowError "300 is out of range for typecode 'b' (-128 to 127)", as
// Python's array module says, and an unknown typecode ValueError. The length
// is fixed: a slice is assigned exactly as many items as it selects, else
// ValueError. A failing call changes nothing.
//
// Thread-safety: every public method is safe to call from any thread; each
// takes the object's mutex, so each is atomic. The typecode and the length
// never change.
#ifndef SHOAL_SERVER_OBJECTS_ARRAY_OBJECT_H_
#define SHOAL_SERVER_OBJECTS_ARRAY_OBJECT_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
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

class ArrayObject : public Object {
 public:
  // An Array of typecode made from initial: an int (or bool) n gives n zeros
  // (Array('d', 10)), a list its items, a str its characters (Array('u',
  // 'abc')). The items' bytes are charged to budget (null: unlimited) before
  // they are allocated, so a huge Array fails with LimitError having taken
  // nothing; budget must outlive the object. ValueError for an unknown
  // typecode or a negative length, TypeError for another initial, and an
  // item's TypeError or OverflowError refuses the whole Array.
  static absl::StatusOr<std::unique_ptr<ArrayObject>> Create(MemoryBudget* budget,
                                                             const std::string& typecode,
                                                             const Value& initial);
  ~ArrayObject() override = default;

  // The typecode given at creation, and the bytes one item takes.
  const std::string& typecode() const { return typecode_; }
  int itemsize() const { return layout_.size; }
  // len(a)
  int64_t Len() const { return length_; }

  // a[index]; a negative index counts from the end. IndexError "array index
  // out of range".
  absl::StatusOr<Value> GetItem(int64_t index) const;
  // a[index] = value. IndexError "array assignment index out of range", or
  // the value's TypeError or OverflowError.
  absl::Status SetItem(int64_t index, const Value& value);
  // a[start:stop:step] as a list; an unset bound is Python's None. ValueError
  // for a zero step; LimitError, before any item is read, when the slice
  // selects more than max_items (the most a reply can carry: a compact Array
  // could otherwise ask for far more memory as Values than it holds).
  absl::StatusOr<Value::List> GetSlice(std::optional<int64_t> start, std::optional<int64_t> stop,
                                       std::optional<int64_t> step,
                                       int64_t max_items = kNoItemLimit) const;
  // a[start:stop:step] = values: as many values as the slice selects (the
  // length is fixed), else ValueError; every value is checked before any is
  // stored.
  absl::Status SetSlice(std::optional<int64_t> start, std::optional<int64_t> stop,
                        std::optional<int64_t> step, const Value::List& values);
  // a[:], every item.
  Value::List ToList() const;

  static constexpr int64_t kNoItemLimit = std::numeric_limits<int64_t>::max();
  // Repr stops once its text passes this many bytes, ending in "...])":
  // listings call Repr for every object, and a compact Array's repr can be
  // many times its size.
  static constexpr size_t kReprLimit = size_t{1} << 20;

  // Object:
  // Python's array repr: array('i', [1, 2, 3]), array('u', 'abc'), and
  // array('d') when empty; cut after kReprLimit bytes.
  std::string Repr() const override;
  int64_t Size() const override { return length_; }  // the length

 private:
  // How a typecode's items are held.
  enum class ItemType { kSigned, kUnsigned, kFloat32, kFloat64, kChar };
  struct Layout {
    ItemType type = ItemType::kSigned;
    // Bytes per item.
    int size = 0;
    // For ints, the range a Value can put in.
    int64_t min = 0;
    int64_t max = 0;
  };
  // One item's bytes, as stored; the first layout_.size of them are used.
  struct Item {
    unsigned char bytes[8] = {};
  };

  // The layout of a typecode; ValueError for an unknown one.
  static absl::StatusOr<Layout> LayoutOf(const std::string& typecode);

  ArrayObject(MemoryBudget* budget, std::string typecode, Layout layout, int64_t length,
              std::vector<unsigned char> items);

  // The item value converts to, or its TypeError / OverflowError.
  absl::StatusOr<Item> Encode(const Value& value) const;
  // The Value of the item stored at index (0 <= index < length_).
  Value Load(int64_t index) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void Store(int64_t index, const Item& item) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string typecode_;
  const Layout layout_;
  const int64_t length_;
  // Holds length_ * layout_.size bytes, taken at creation and given back
  // with the object; never changed in between, so it needs no lock.
  BudgetAccount account_;
  mutable Mutex mu_;
  // length_ items of layout_.size bytes each, in the host's byte order.
  std::vector<unsigned char> items_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_ARRAY_OBJECT_H_
