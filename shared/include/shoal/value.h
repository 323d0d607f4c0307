// A Value is one dynamic value as shared objects hold it: None, bool, int
// (int64), float (double), str, bytes, a list, a dict, or a reference to a
// shared object (Python's nested proxy). Equality, hashing, ordering and
// printing follow Python: 1 == 1.0 == True and they hash alike; a list sorts
// lexicographically; str and int do not compare.
//
// Values have value semantics: copying a Value copies its contents (lists and
// dicts are shared until one copy is changed). A Value is not synchronized:
// share one between threads only for reading.
#ifndef SHOAL_VALUE_H_
#define SHOAL_VALUE_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace shoal {

// The kind of a shared object. The numbers are the wire numbers of
// shoal.v1.Kind.
enum class Kind : int {
  kUnspecified = 0,
  kList = 1,
  kDict = 2,
  kNamespace = 3,
  kValue = 4,
  kLock = 5,
  kRLock = 6,
  kSemaphore = 7,
  kBoundedSemaphore = 8,
  kCondition = 9,
  kEvent = 10,
  kBarrier = 11,
  kQueue = 12,
  kJoinableQueue = 13,
  kConnection = 14,
  kPipe = 15,
  kArray = 16,
  kPool = 17,
};

// Python's typeid of a kind: "list", "dict", "Namespace", "Value", "Lock", ...
// "unknown" for kUnspecified or an out-of-range number.
const char* KindName(Kind kind);

// Raw bytes, as opposed to a str.
struct Bytes {
  std::string data;
  bool operator==(const Bytes& other) const { return data == other.data; }
};

class Value;
class ValueDict;

// A reference to a shared object. In the client library, owner keeps the
// object alive on the server while this reference exists; the server leaves
// it empty.
struct ObjectRef {
  uint64_t id = 0;
  Kind kind = Kind::kUnspecified;
  std::shared_ptr<void> owner;
};

class Value {
 public:
  enum class Type { kNone, kBool, kInt, kFloat, kStr, kBytes, kList, kDict, kRef };
  using List = std::vector<Value>;
  using Dict = ValueDict;

  Value() = default;  // None
  Value(std::nullptr_t) {}
  Value(const Value&) = default;
  Value(Value&&) noexcept = default;
  // Safe when other lives inside this value, as in v = v.as_list()[0]: the
  // source is taken out before the old contents are released.
  Value& operator=(const Value& other);
  Value& operator=(Value&& other) noexcept;
  ~Value() = default;
  Value(bool b) : v_(std::in_place_index<1>, b) {}
  Value(int i) : v_(std::in_place_index<2>, static_cast<int64_t>(i)) {}
  Value(long i) : v_(std::in_place_index<2>, static_cast<int64_t>(i)) {}
  Value(long long i) : v_(std::in_place_index<2>, static_cast<int64_t>(i)) {}
  Value(unsigned int i) : v_(std::in_place_index<2>, static_cast<int64_t>(i)) {}
  Value(unsigned long i) : v_(std::in_place_index<2>, static_cast<int64_t>(i)) {}
  Value(double d) : v_(std::in_place_index<3>, d) {}
  Value(const char* s) : v_(std::in_place_index<4>, s) {}
  Value(std::string s) : v_(std::in_place_index<4>, std::move(s)) {}
  Value(std::string_view s) : v_(std::in_place_index<4>, std::string(s)) {}
  Value(Bytes b) : v_(std::in_place_index<5>, std::move(b.data)) {}
  Value(List items);
  Value(Dict dict);
  Value(ObjectRef ref) : v_(std::in_place_index<8>, std::move(ref)) {}

  // A list of the given items: Value::list({1, "two", 3.0}).
  static Value list(std::initializer_list<Value> items);
  // A dict of the given entries: Value::dict({{"a", 1}, {"b", 2}}).
  static Value dict(std::initializer_list<std::pair<Value, Value>> entries);
  static Value bytes(std::string data) { return Value(Bytes{std::move(data)}); }

  Type type() const { return static_cast<Type>(v_.index()); }
  // Python's type name: "NoneType", "bool", "int", "float", "str", "bytes",
  // "list", "dict", or the kind of a referenced object.
  const char* type_name() const;

  bool is_none() const { return type() == Type::kNone; }
  bool is_bool() const { return type() == Type::kBool; }
  bool is_int() const { return type() == Type::kInt; }
  bool is_float() const { return type() == Type::kFloat; }
  // bool, int or float.
  bool is_number() const { return is_bool() || is_int() || is_float(); }
  bool is_str() const { return type() == Type::kStr; }
  bool is_bytes() const { return type() == Type::kBytes; }
  bool is_list() const { return type() == Type::kList; }
  bool is_dict() const { return type() == Type::kDict; }
  bool is_ref() const { return type() == Type::kRef; }

  // Accessors throw shoal::TypeError when the value has another type.
  // as_int accepts a bool; as_float accepts a bool or an int.
  bool as_bool() const;
  int64_t as_int() const;
  double as_float() const;
  const std::string& as_str() const;
  const std::string& as_bytes() const;
  const List& as_list() const&;
  List& as_list() &;
  // Of a temporary: its list or dict itself, moved out when no other Value
  // shares it (as with the result of Pool::map), else a copy.
  List as_list() &&;
  const Dict& as_dict() const&;
  Dict& as_dict() &;
  Dict as_dict() &&;
  const ObjectRef& as_ref() const;

  // Python's truth value: None, False, 0, 0.0 and empty containers are false.
  bool truthy() const;

  // Whether the value can be a dict key: everything but list and dict.
  bool hashable() const;
  // Python-compatible hash; equal values hash alike. Precondition: hashable().
  size_t hash() const;

  // Python's ==.
  friend bool operator==(const Value& a, const Value& b);
  friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }

  // Python's ordering: negative, zero or positive, or nullopt when the two do
  // not compare (Python's TypeError for '<').
  static std::optional<int> Compare(const Value& a, const Value& b);

  // Python's repr(): None, True, 3, 2.5, 'text', b'raw', [1, 'a'], {'k': 1}.
  std::string repr() const;

  // Calls fn(const ObjectRef&) for every reference inside, recursively.
  template <typename Fn>
  void ForEachRef(Fn&& fn) const;
  // Calls fn(ObjectRef&) for every reference inside, recursively, so that fn
  // may set its owner. Copies of a value share its lists and dicts: call it on
  // a value no copy has been made of.
  template <typename Fn>
  void ForEachRefMutable(Fn&& fn);
  // Whether a reference appears anywhere inside.
  bool contains_ref() const;

 private:
  using Storage = std::variant<std::monostate, bool, int64_t, double, std::string,
                               std::string, std::shared_ptr<List>, std::shared_ptr<Dict>,
                               ObjectRef>;
  Storage v_;
};

// Hash and equality functors for unordered containers keyed by Value.
struct ValueHash {
  size_t operator()(const Value& v) const { return v.hash(); }
};
struct ValueEq {
  bool operator()(const Value& a, const Value& b) const { return a == b; }
};

// A dict that keeps insertion order, with Python's key semantics: setting an
// existing key keeps its position and the key first stored. Keys must be
// hashable (callers check Value::hashable first).
//
// Laid out as CPython's dict: the entries, each with its key's hash, stand in
// insertion order in one array, where a removed entry leaves a hole; an
// open-addressing table of positions in that array (a power of two in size,
// never more than 2/3 full) finds them. Setting a key costs no allocation
// beyond the array's amortised growth, and a key is stored once. The holes
// are squeezed out when they outnumber the entries, and holes at the end are
// dropped at once, so removals and pop_last cost amortised constant time.
//
// Iterators walk the entries in insertion order, stepping over holes. As with
// std::vector, adding a key or removing one may invalidate iterators and the
// pointers find returns; setting an existing key does not.
class ValueDict {
  struct Slot;

 public:
  using Entry = std::pair<Value, Value>;

  // A bidirectional iterator over the entries, in insertion order.
  template <bool kConst>
  class Iterator {
   public:
    using iterator_category = std::bidirectional_iterator_tag;
    using value_type = Entry;
    using difference_type = std::ptrdiff_t;
    using pointer = std::conditional_t<kConst, const Entry*, Entry*>;
    using reference = std::conditional_t<kConst, const Entry&, Entry&>;

    Iterator() = default;
    // An iterator converts to a const_iterator.
    template <bool kOther, typename = std::enable_if_t<kConst && !kOther>>
    Iterator(const Iterator<kOther>& other) : at_(other.at_), end_(other.end_) {}

    reference operator*() const { return at_->entry; }
    pointer operator->() const { return &at_->entry; }
    Iterator& operator++() {
      do ++at_;
      while (at_ != end_ && !at_->live);
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++*this;
      return before;
    }
    // The entry before: one exists (this is not begin()), so no bound is
    // needed while stepping back over holes.
    Iterator& operator--() {
      do --at_;
      while (!at_->live);
      return *this;
    }
    Iterator operator--(int) {
      Iterator before = *this;
      --*this;
      return before;
    }
    template <bool kOther>
    bool operator==(const Iterator<kOther>& other) const {
      return at_ == other.at_;
    }
    template <bool kOther>
    bool operator!=(const Iterator<kOther>& other) const {
      return at_ != other.at_;
    }

   private:
    friend class ValueDict;
    template <bool>
    friend class Iterator;
    using SlotPtr = std::conditional_t<kConst, const Slot*, Slot*>;
    Iterator(SlotPtr at, SlotPtr end) : at_(at), end_(end) {}

    SlotPtr at_ = nullptr;
    SlotPtr end_ = nullptr;
  };
  using iterator = Iterator<false>;
  using const_iterator = Iterator<true>;

  ValueDict() = default;
  ValueDict(const ValueDict& other) = default;
  ValueDict& operator=(const ValueDict& other);
  // A moved-from dict is empty.
  ValueDict(ValueDict&& other) noexcept;
  ValueDict& operator=(ValueDict&& other) noexcept;

  size_t size() const { return live_; }
  bool empty() const { return live_ == 0; }
  const_iterator begin() const;
  const_iterator end() const;
  iterator begin();
  iterator end();

  // The value at key, or null.
  const Value* find(const Value& key) const;
  Value* find(const Value& key);
  // The entry of key, where it stands in insertion order, or end().
  const_iterator find_entry(const Value& key) const;
  bool contains(const Value& key) const { return find(key) != nullptr; }
  // Sets key to value; returns true when the key was new.
  bool set(Value key, Value value);
  // find and set for a caller that hashed the key already, to look it up
  // more than once. Precondition: hash == key.hash().
  const Value* find_hashed(const Value& key, size_t hash) const;
  bool set_hashed(Value key, Value value, size_t hash);
  // The value stored at key, for the caller to replace; when key is missing
  // it is moved in, with None, and *inserted is set. The pointer holds until
  // the dict next changes. Precondition: hash == key.hash().
  Value* slot_hashed(Value& key, size_t hash, bool* inserted);
  // Hints for a caller about to look up many keys whose hashes it knows:
  // prefetch_index brings the table slot where a key of this hash is looked
  // for first into the cache, and prefetch_entry, called some lookups later,
  // the entry that slot names. Neither changes anything.
  void prefetch_index(size_t hash) const {
    if (!index_.empty()) __builtin_prefetch(&index_[hash & (index_.size() - 1)]);
  }
  void prefetch_entry(size_t hash) const {
    if (index_.empty()) return;
    const uint32_t pos = index_[hash & (index_.size() - 1)];
    if (pos >= kRemoved) return;
    // A lookup reads the hash, then the key: on two cache lines of a slot.
    __builtin_prefetch(&slots_[pos].hash);
    __builtin_prefetch(&slots_[pos].entry);
  }
  // Removes key and returns its value, or nullopt when missing.
  std::optional<Value> take(const Value& key);
  // Removes and returns the last inserted entry. Precondition: !empty().
  Entry pop_last();
  void clear();
  // Makes room for n entries: adding keys until size() is n allocates
  // nothing. Repeated calls still grow the storage geometrically.
  void reserve(size_t n);

  // Python's dict ==: same keys with equal values, order aside.
  friend bool operator==(const ValueDict& a, const ValueDict& b);

 private:
  // One entry of the array, or a hole where an entry was removed (its key
  // and value then None).
  struct Slot {
    Entry entry;
    size_t hash = 0;
    bool live = false;
  };

  // Where a lookup of a key ended in the table of positions.
  struct Probe {
    size_t index_slot;  // where the key's position is, or where it would go
    bool found;
  };

  static constexpr uint32_t kEmpty = 0xffffffff;    // never used
  static constexpr uint32_t kRemoved = 0xfffffffe;  // its entry was removed
  static constexpr size_t kMinIndexSize = 8;
  // Fewer holes than this are left alone, however few the entries.
  static constexpr size_t kMinHolesToSqueeze = 8;

  // How many table slots may be in use: 2/3 of them.
  static size_t Usable(size_t index_size) { return index_size * 2 / 3; }

  Probe Lookup(const Value& key, size_t hash) const;
  // set, moving from key and value.
  bool Store(Value& key, Value& value, size_t hash);
  // The table slot holding position pos, whose entry has the given hash.
  size_t IndexSlotOf(size_t pos, size_t hash) const;
  // Rebuilds the table with room for at least `entries` entries, squeezing
  // the holes out of the array.
  void Rebuild(size_t entries);
  // Marks the entry at pos a hole, whose table slot is index_slot.
  void RemoveAt(size_t pos, size_t index_slot);
  void Swap(ValueDict& other) noexcept;

  std::vector<Slot> slots_;
  // Positions in slots_, kEmpty or kRemoved; empty or a power of two long.
  std::vector<uint32_t> index_;
  size_t live_ = 0;
  // Table slots that are not kEmpty: at most 2/3 of index_.
  size_t index_used_ = 0;
  // Every slot before first_ is a hole.
  size_t first_ = 0;
};

template <typename Fn>
void Value::ForEachRef(Fn&& fn) const {
  switch (type()) {
    case Type::kRef:
      fn(std::get<8>(v_));
      break;
    case Type::kList:
      for (const Value& item : *std::get<6>(v_)) item.ForEachRef(fn);
      break;
    case Type::kDict:
      for (const auto& [key, value] : *std::get<7>(v_)) {
        key.ForEachRef(fn);
        value.ForEachRef(fn);
      }
      break;
    default:
      break;
  }
}

template <typename Fn>
void Value::ForEachRefMutable(Fn&& fn) {
  switch (type()) {
    case Type::kRef:
      fn(std::get<8>(v_));
      break;
    case Type::kList:
      for (Value& item : *std::get<6>(v_)) item.ForEachRefMutable(fn);
      break;
    case Type::kDict:
      for (auto& [key, value] : *std::get<7>(v_)) {
        key.ForEachRefMutable(fn);
        value.ForEachRefMutable(fn);
      }
      break;
    default:
      break;
  }
}

}  // namespace shoal

#endif  // SHOAL_VALUE_H_
