// ValueProxy is one shared value on a shoal server, the counterpart of
// Python's manager.Value(typecode, value), with the atomic read-modify-write
// operations Python users have to build from a Lock: add() and
// compare_and_swap(). A typecode ("i", "l", "q", "d", "f", "b", "u", ...)
// fixes the value's type; an empty typecode allows any Value.
//
// Thread-safety: safe to use from several threads at once; every method is one
// atomic operation on the server.
#ifndef SHOAL_VALUE_PROXY_H_
#define SHOAL_VALUE_PROXY_H_

#include <memory>
#include <string>
#include <utility>

#include "shoal/proxy.h"
#include "shoal/value.h"

namespace shoal {

class ValueProxy : public ObjectProxy {
 public:
  static constexpr Kind kKind = Kind::kValue;
  class Async;

  // The same operations, pipelined: each returns a Future at once (see
  // shoal/pipeline.h). async() sends every call as it is made; async(batch)
  // gathers them in batch, to go out together.
  Async async() const;
  Async async(Batch& batch) const;

  // The Value object a Value refers to. TypeError when value is not a
  // reference to a Value object.
  explicit ValueProxy(const Value& value) : ObjectProxy(value, kKind) {}

  // v.value
  Value get() const;
  Value value() const { return get(); }
  // v.value = value. TypeError when value is of a type the typecode does not
  // hold, OverflowError when it is a number out of the typecode's range.
  void set(const Value& value);
  // Atomically v.value += delta (an int or a float, with Python's rules: int +
  // float is float); returns the new value. OverflowError when the sum is out
  // of the typecode's range (or of int64's).
  Value add(const Value& delta);
  // Atomically: if v.value == expected, v.value = desired. Returns whether it
  // swapped; *current, when given, receives the value after the call.
  bool compare_and_swap(const Value& expected, const Value& desired, Value* current = nullptr);
  // The typecode the object was created with; empty for any type.
  std::string typecode() const;

 private:
  friend class detail::ProxyAccess;
  // The view the blocking methods wait on.
  Async now() const;
  explicit ValueProxy(std::shared_ptr<detail::ObjectHandle> handle)
      : ObjectProxy(std::move(handle)) {}
};

// ValueProxy's operations, each returning a Future of what the blocking
// method returns; errors are thrown by the Future's get().
class ValueProxy::Async {
 public:
  Future<Value> get();
  Future<void> set(const Value& value);
  Future<Value> add(const Value& delta);
  // Whether it swapped, and the value after the call.
  Future<std::pair<bool, Value>> compare_and_swap(const Value& expected, const Value& desired);

 private:
  friend class ValueProxy;
  explicit Async(detail::AsyncTarget target) : target_(std::move(target)) {}

  detail::AsyncTarget target_;
};

}  // namespace shoal

#endif  // SHOAL_VALUE_PROXY_H_
