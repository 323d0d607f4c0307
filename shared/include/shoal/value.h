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
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
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
  const List& as_list() const;
  List& as_list();
  const Dict& as_dict() const;
  Dict& as_dict();
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
class ValueDict {
 public:
  using Entry = std::pair<Value, Value>;
  using const_iterator = std::list<Entry>::const_iterator;
  using iterator = std::list<Entry>::iterator;

  ValueDict() = default;
  ValueDict(const ValueDict& other);
  ValueDict& operator=(const ValueDict& other);
  ValueDict(ValueDict&&) noexcept = default;
  ValueDict& operator=(ValueDict&&) noexcept = default;

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const_iterator begin() const { return entries_.begin(); }
  const_iterator end() const { return entries_.end(); }
  iterator begin() { return entries_.begin(); }
  iterator end() { return entries_.end(); }

  // The value at key, or null.
  const Value* find(const Value& key) const;
  Value* find(const Value& key);
  // The entry of key, where it stands in insertion order, or end().
  const_iterator find_entry(const Value& key) const;
  bool contains(const Value& key) const { return find(key) != nullptr; }
  // Sets key to value; returns true when the key was new.
  bool set(Value key, Value value);
  // Removes key and returns its value, or nullopt when missing.
  std::optional<Value> take(const Value& key);
  // Removes and returns the last inserted entry. Precondition: !empty().
  Entry pop_last();
  void clear();

  // Python's dict ==: same keys with equal values, order aside.
  friend bool operator==(const ValueDict& a, const ValueDict& b);

 private:
  void Reindex();

  std::list<Entry> entries_;
  std::unordered_map<Value, iterator, ValueHash, ValueEq> index_;
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

}  // namespace shoal

#endif  // SHOAL_VALUE_H_
