// Internal to the library; not part of the stable API. RemoteIterator is
// what ListProxy::iterator and DictProxy::iterator are made of: an input
// iterator over a shared object whose every step is one round trip that
// fetches the next element, and which holds the element it is at.
//
// Derived (the iterator class itself) provides a private void Advance(),
// befriending RemoteIterator<Derived>: the step to the next element, which
// sets current_ and index_, or calls Finish() after the last element. Its
// constructor from a handle takes the first step.
//
// Thread-safety: an iterator, like a standard one, belongs to one thread.
#ifndef SHOAL_DETAIL_REMOTE_ITERATOR_H_
#define SHOAL_DETAIL_REMOTE_ITERATOR_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <utility>

#include "shoal/value.h"

namespace shoal::detail {

class ObjectHandle;

template <class Derived>
class RemoteIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = Value;
  using difference_type = std::ptrdiff_t;
  using pointer = const Value*;
  using reference = const Value&;

  reference operator*() const { return current_; }
  pointer operator->() const { return &current_; }
  // Fetches the next element: one round trip.
  Derived& operator++() {
    Derived& self = static_cast<Derived&>(*this);
    self.Advance();
    return self;
  }
  Derived operator++(int) {
    Derived before = static_cast<const Derived&>(*this);
    ++*this;
    return before;
  }
  // Two iterators are equal when both are at the end, or both are at the
  // same position of the same object.
  friend bool operator==(const Derived& a, const Derived& b) {
    const RemoteIterator& x = a;
    const RemoteIterator& y = b;
    return x.handle_ == y.handle_ && (x.handle_ == nullptr || x.index_ == y.index_);
  }
  friend bool operator!=(const Derived& a, const Derived& b) { return !(a == b); }

 protected:
  // The end of every iteration.
  RemoteIterator() = default;
  // On the object of handle, before its first step.
  explicit RemoteIterator(std::shared_ptr<ObjectHandle> handle) : handle_(std::move(handle)) {}

  // Goes to the end.
  void Finish() {
    handle_.reset();
    current_ = Value();
  }

  // Null at the end.
  std::shared_ptr<ObjectHandle> handle_;
  // The position of current_ in the object.
  int64_t index_ = 0;
  Value current_;
};

}  // namespace shoal::detail

#endif  // SHOAL_DETAIL_REMOTE_ITERATOR_H_
