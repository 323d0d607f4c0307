// ListProxy is a shared list on a shoal server, the counterpart of Python's
// manager.list() and its ListProxy. Method names and semantics follow
// Python's list: negative indexes count from the end, slices take optional
// bounds (std::nullopt is Python's None), and failures throw the exception
// Python would raise (IndexError, ValueError, TypeError).
//
// Thread-safety: safe to use from several threads at once; every method is one
// atomic operation on the server. Methods that read the list return copies of
// its items; a returned Value holding a reference keeps that object alive. An
// iterator, like a standard one, belongs to one thread.
#ifndef SHOAL_LIST_PROXY_H_
#define SHOAL_LIST_PROXY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "shoal/detail/remote_iterator.h"
#include "shoal/proxy.h"
#include "shoal/value.h"

namespace shoal {

class ListProxy : public ObjectProxy {
 public:
  static constexpr Kind kKind = Kind::kList;
  class Async;
  class iterator;

  // The same operations, pipelined: each returns a Future at once (see
  // shoal/pipeline.h). async() sends every call as it is made; async(batch)
  // gathers them in batch, to go out together.
  Async async() const;
  Async async(Batch& batch) const;

  // The list a Value refers to, such as an item read from another container.
  // TypeError when value is not a reference to a list.
  explicit ListProxy(const Value& value) : ObjectProxy(value, kKind) {}

  // lst.append(item)
  void append(const Value& item);
  // lst.extend(items); also operator+=.
  void extend(const Value::List& items);
  // lst.insert(index, item); an index past either end inserts at that end.
  void insert(int64_t index, const Value& item);
  // lst.pop() and lst.pop(index): removes and returns an item. IndexError when
  // the list is empty or the index out of range.
  Value pop();
  Value pop(int64_t index);
  // lst.remove(item): removes the first item equal to item; ValueError when
  // there is none.
  void remove(const Value& item);
  // lst.index(item, start, stop): the position of the first equal item in
  // [start, stop); ValueError when there is none.
  int64_t index(const Value& item, std::optional<int64_t> start = std::nullopt,
                std::optional<int64_t> stop = std::nullopt) const;
  // lst.count(item): how many items equal item.
  size_t count(const Value& item) const;
  // lst.reverse(), in place.
  void reverse();
  // lst.sort(reverse=...), in place and stable. TypeError, with the list left
  // unchanged, when items do not compare (str and int, None, dicts).
  void sort(bool reverse = false);

  // lst[index]; IndexError when out of range. Read-only: assign with set().
  Value operator[](int64_t index) const { return get(index); }
  Value get(int64_t index) const;
  // lst[index] = item; IndexError when out of range.
  void set(int64_t index, const Value& item);
  // del lst[index]; IndexError when out of range.
  void del(int64_t index);

  // lst[start:stop:step]
  Value::List slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                    std::optional<int64_t> step = std::nullopt) const;
  // lst[start:stop] = items
  void set_slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                 const Value::List& items);
  // lst[start:stop:step] = items; an extended slice (step other than 1) must
  // be given exactly as many items as it selects (ValueError otherwise).
  void set_slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                 std::optional<int64_t> step, const Value::List& items);
  // del lst[start:stop:step]
  void del_slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                 std::optional<int64_t> step = std::nullopt);

  // len(lst)
  size_t len() const;
  size_t size() const { return len(); }
  // item in lst
  bool contains(const Value& item) const;
  // lst.clear()
  void clear();
  // A copy of the whole list, Python's _getvalue().
  Value::List copy() const;

  // for (shoal::Value item : lst): Python's iteration over a ListProxy, which
  // reads lst[0], lst[1], ... until IndexError. Each step is one round trip
  // that reads one item, so the loop sees the list as it is at that step: an
  // item appended meanwhile (by this process or another) is visited, and
  // removing an item already visited shifts the next one to an index already
  // read, so it is skipped, as in Python. For a snapshot of the whole list in
  // one round trip, iterate over copy() instead. begin() reads the first item.
  iterator begin() const;
  iterator end() const;

  // lst += items
  ListProxy& operator+=(const Value::List& items);
  // lst *= count; a count of zero or less empties the list.
  ListProxy& operator*=(int64_t count);

  // lst + items: a new plain list, the items of lst followed by items; lst
  // is read in one call and left as it is. (To add two shared lists, add the
  // copy() of the second, as Python's proxy takes no proxy there either.)
  Value::List operator+(const Value::List& items) const;
  // lst * count and count * lst: a new plain list, the items of lst count
  // times (none when count is zero or less); lst is read in one call.
  // LimitError when the result would be too long to hold.
  Value::List operator*(int64_t count) const;
  friend Value::List operator*(int64_t count, const ListProxy& lst) { return lst * count; }
  // reversed(lst): the items in reverse order, as a new plain list read in
  // one call (Python gives an iterator; the items are the same).
  Value::List reversed() const;

 private:
  friend class detail::ProxyAccess;
  // The view the blocking methods wait on.
  Async now() const;
  explicit ListProxy(std::shared_ptr<detail::ObjectHandle> handle)
      : ObjectProxy(std::move(handle)) {}
};

// An input iterator over a shared list: see ListProxy::begin(). Incrementing
// reads the next item from the server; one past the last item it equals
// end(). Errors other than the IndexError that ends the iteration are thrown
// by begin() and operator++. Two iterators are equal when both are at the
// end, or both are at the same index of the same list.
class ListProxy::iterator : public detail::RemoteIterator<ListProxy::iterator> {
 public:
  // The end of every iteration.
  iterator() = default;

 private:
  friend class ListProxy;
  friend class detail::RemoteIterator<iterator>;
  // At index 0 of the list of handle.
  explicit iterator(std::shared_ptr<detail::ObjectHandle> handle);
  // Reads the item at the next index.
  void Advance() {
    ++index_;
    Read();
  }
  // Reads the item at index_, or goes to the end when there is none.
  void Read();
};

// ListProxy's operations, each returning a Future of what the blocking
// method returns; errors are thrown by the Future's get().
class ListProxy::Async {
 public:
  Future<void> append(const Value& item);
  Future<void> extend(const Value::List& items);
  Future<void> insert(int64_t index, const Value& item);
  Future<Value> pop();
  Future<Value> pop(int64_t index);
  Future<void> remove(const Value& item);
  Future<int64_t> index(const Value& item, std::optional<int64_t> start = std::nullopt,
                        std::optional<int64_t> stop = std::nullopt);
  Future<size_t> count(const Value& item);
  Future<void> reverse();
  Future<void> sort(bool reverse = false);
  Future<Value> get(int64_t index);
  Future<void> set(int64_t index, const Value& item);
  Future<void> del(int64_t index);
  Future<Value::List> slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                            std::optional<int64_t> step = std::nullopt);
  Future<void> set_slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                         const Value::List& items);
  Future<void> set_slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                         std::optional<int64_t> step, const Value::List& items);
  Future<void> del_slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                         std::optional<int64_t> step = std::nullopt);
  Future<size_t> len();
  Future<bool> contains(const Value& item);
  Future<void> clear();
  Future<Value::List> copy();
  // lst *= count
  Future<void> repeat(int64_t count);

 private:
  friend class ListProxy;
  explicit Async(detail::AsyncTarget target) : target_(std::move(target)) {}

  detail::AsyncTarget target_;
};

}  // namespace shoal

#endif  // SHOAL_LIST_PROXY_H_
