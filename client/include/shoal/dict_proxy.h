// DictProxy is a shared dict on a shoal server, the counterpart of Python's
// manager.dict() and its DictProxy. Keys are hashable Values (None, bool, int,
// float, str, bytes, or a reference) with Python's key semantics: 1, 1.0 and
// True are one key. Entries keep insertion order; keys(), values() and items()
// return lists, as Python's proxy does.
//
// Thread-safety: safe to use from several threads at once; every method is one
// atomic operation on the server. Returned Values are copies; one holding a
// reference keeps that object alive. An iterator, like a standard one,
// belongs to one thread.
#ifndef SHOAL_DICT_PROXY_H_
#define SHOAL_DICT_PROXY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "shoal/detail/remote_iterator.h"
#include "shoal/proxy.h"
#include "shoal/value.h"

namespace shoal {

class DictProxy : public ObjectProxy {
 public:
  static constexpr Kind kKind = Kind::kDict;
  using Entry = std::pair<Value, Value>;
  class Async;
  class iterator;

  // The same operations, pipelined: each returns a Future at once (see
  // shoal/pipeline.h). async() sends every call as it is made; async(batch)
  // gathers them in batch, to go out together.
  Async async() const;
  Async async(Batch& batch) const;

  // The dict a Value refers to. TypeError when value is not a reference to a
  // dict.
  explicit DictProxy(const Value& value) : ObjectProxy(value, kKind) {}

  // d[key]; KeyError when missing. Read-only: assign with set().
  Value operator[](const Value& key) const;
  // d.get(key, default)
  Value get(const Value& key, const Value& default_value = Value()) const;
  // d[key] = value; TypeError for an unhashable key.
  void set(const Value& key, const Value& value);
  // del d[key]; KeyError when missing.
  void del(const Value& key);
  // key in d
  bool contains(const Value& key) const;
  // d.setdefault(key, default): the value at key, set to default first when
  // the key is missing.
  Value setdefault(const Value& key, const Value& default_value = Value());
  // d.pop(key): removes and returns the value; KeyError when missing.
  Value pop(const Value& key);
  // d.pop(key, default): default when missing.
  Value pop(const Value& key, const Value& default_value);
  // d.popitem(): removes and returns the last inserted entry; KeyError when
  // the dict is empty.
  Entry popitem();
  // d.update(entries), in order.
  void update(const std::vector<Entry>& entries);
  void update(const Value::Dict& entries);

  // list(d.keys()), list(d.values()), list(d.items()), in insertion order.
  Value::List keys() const;
  Value::List values() const;
  std::vector<Entry> items() const;

  // for (shoal::Value key : d): Python's iteration over a DictProxy, over its
  // keys in insertion order. Each step is one round trip that returns one
  // key, and costs the server the same whatever the dict's size; nothing is
  // kept on the server between steps. As in Python, a step throws
  // RuntimeError "dictionary changed size during iteration" when a key was
  // added or removed (by this process or another) since the step before;
  // and, where Python might go on, "dictionary keys changed during
  // iteration" when keys were both added and removed, leaving the size as it
  // was. Setting the value of an existing key is fine. For a snapshot in one
  // round trip, iterate over keys() or copy() instead. begin() reads the
  // first key.
  iterator begin() const;
  iterator end() const;

  // len(d)
  size_t len() const;
  size_t size() const { return len(); }
  // d.clear()
  void clear();
  // A copy of the whole dict, Python's _getvalue().
  Value::Dict copy() const;

 private:
  friend class detail::ProxyAccess;
  // The view the blocking methods wait on.
  Async now() const;
  explicit DictProxy(std::shared_ptr<detail::ObjectHandle> handle)
      : ObjectProxy(std::move(handle)) {}
};

// An input iterator over a shared dict's keys: see DictProxy::begin().
// Incrementing asks the server for the next key; after the last key it equals
// end(). begin() and operator++ throw RuntimeError when the dict changed
// during the iteration, and the call's other errors. Two iterators are equal
// when both are at the end, or both are at the same position of the same
// dict.
class DictProxy::iterator : public detail::RemoteIterator<DictProxy::iterator> {
 public:
  // The end of every iteration.
  iterator() = default;

 private:
  friend class DictProxy;
  friend class detail::RemoteIterator<iterator>;
  // At the first key of the dict of handle.
  explicit iterator(std::shared_ptr<detail::ObjectHandle> handle);
  // Asks for the key after this one.
  void Advance() { Step(/*first=*/false); }
  // One step: the first key, or the one after current_; the end when there
  // is none.
  void Step(bool first);

  // The cursor the server gave with current_ (and index_), given back in
  // the next step.
  uint64_t stamp_ = 0;
  int64_t size_ = 0;
};

// DictProxy's operations, each returning a Future of what the blocking
// method returns; errors are thrown by the Future's get().
class DictProxy::Async {
 public:
  // d[key]: KeyError when missing.
  Future<Value> item(const Value& key);
  Future<Value> get(const Value& key, const Value& default_value = Value());
  Future<void> set(const Value& key, const Value& value);
  Future<void> del(const Value& key);
  Future<bool> contains(const Value& key);
  Future<Value> setdefault(const Value& key, const Value& default_value = Value());
  Future<Value> pop(const Value& key);
  Future<Value> pop(const Value& key, const Value& default_value);
  Future<Entry> popitem();
  Future<void> update(const std::vector<Entry>& entries);
  Future<void> update(const Value::Dict& entries);
  Future<Value::List> keys();
  Future<Value::List> values();
  Future<std::vector<Entry>> items();
  Future<size_t> len();
  Future<void> clear();
  Future<Value::Dict> copy();

 private:
  friend class DictProxy;
  explicit Async(detail::AsyncTarget target) : target_(std::move(target)) {}

  detail::AsyncTarget target_;
};

}  // namespace shoal

#endif  // SHOAL_DICT_PROXY_H_
