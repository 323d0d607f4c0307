// ArrayProxy is a shared Array on a shoal server, the counterpart of
// Python's multiprocessing Array(typecode, size_or_initializer): a fixed
// number of items of one C type, named by a typecode of Python's array
// module. b B h H i I l L q Q hold ints (1, 1, 2, 2, 4, 4, 8, 8, 8, 8 bytes,
// as on Linux x86-64), f (float32: a value read back is rounded as ctypes'
// c_float rounds it) and d (double) hold floats, u one unicode character (a
// str of length 1). Indexes and slices follow Python: negative indexes count
// from the end, slice bounds are optional (std::nullopt is Python's None).
//
// Errors are Python's: a value of the wrong type is TypeError (1.5 or "1"
// into an 'i' array; a bool is taken as an int), a number out of the
// typecode's range OverflowError, an index out of range IndexError, and a
// slice assigned another number of items than it spans ValueError: the
// length never changes. Python's Array(..., lock=True) also has get_lock();
// shoal has none: every call is atomic on the server, and a Lock from the
// Manager guards a sequence of calls.
//
// Thread-safety: safe to use from several threads at once; every method is one
// atomic operation on the server.
#ifndef SHOAL_ARRAY_PROXY_H_
#define SHOAL_ARRAY_PROXY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "shoal/proxy.h"
#include "shoal/value.h"

namespace shoal {

class ArrayProxy : public ObjectProxy {
 public:
  static constexpr Kind kKind = Kind::kArray;
  class Async;

  // The same operations, pipelined: each returns a Future at once (see
  // shoal/pipeline.h). async() sends every call as it is made; async(batch)
  // gathers them in batch, to go out together.
  Async async() const;
  Async async(Batch& batch) const;

  // The Array a Value refers to. TypeError when value is not a reference to
  // an Array.
  explicit ArrayProxy(const Value& value) : ObjectProxy(value, kKind) {}

  // len(a)
  size_t len() const;
  size_t size() const { return len(); }

  // a[index]; IndexError when out of range. Read-only: assign with set().
  Value operator[](int64_t index) const { return get(index); }
  Value get(int64_t index) const;
  // a[index] = value; IndexError, TypeError or OverflowError.
  void set(int64_t index, const Value& value);

  // a[start:stop:step]
  Value::List slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                    std::optional<int64_t> step = std::nullopt) const;
  // a[start:stop] = values, as many as the slice spans (ValueError otherwise).
  void set_slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                 const Value::List& values);
  // a[start:stop:step] = values, as many as the slice selects.
  void set_slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                 std::optional<int64_t> step, const Value::List& values);

  // a[:], every item; Python's a.tolist().
  Value::List tolist() const;
  // The typecode the Array was created with, such as "i".
  std::string typecode() const;

 private:
  friend class detail::ProxyAccess;
  // The view the blocking methods wait on.
  Async now() const;
  explicit ArrayProxy(std::shared_ptr<detail::ObjectHandle> handle)
      : ObjectProxy(std::move(handle)) {}
};

// ArrayProxy's operations, each returning a Future of what the blocking
// method returns; errors are thrown by the Future's get().
class ArrayProxy::Async {
 public:
  Future<size_t> len();
  Future<Value> get(int64_t index);
  Future<void> set(int64_t index, const Value& value);
  Future<Value::List> slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                            std::optional<int64_t> step = std::nullopt);
  Future<void> set_slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                         const Value::List& values);
  Future<void> set_slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                         std::optional<int64_t> step, const Value::List& values);
  Future<Value::List> tolist();
  Future<std::string> typecode();

 private:
  friend class ArrayProxy;
  explicit Async(detail::AsyncTarget target) : target_(std::move(target)) {}

  detail::AsyncTarget target_;
};

}  // namespace shoal

#endif  // SHOAL_ARRAY_PROXY_H_
