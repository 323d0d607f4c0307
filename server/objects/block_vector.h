// BlockVector<T> is a sequence with the part of std::vector's interface the
// server's list uses, whose items are stored in blocks of kBlockItems: growing
// it never moves the items already stored. A list of millions of items that
// is appended to therefore never copies them all into a bigger array (nor
// faults in that array's pages) as a vector does each time it doubles, and an
// append costs the same at any length.
//
// A short sequence lives in one block that grows by doubling, from 4 items up
// to kBlockItems, as a vector would: an empty one allocates nothing and a
// short one wastes no more than a vector. Past that, blocks of kBlockItems are
// added as needed. Indexing is a shift and a mask. Inserting or erasing inside
// moves the items after that point, as a vector does. Shrinking frees the
// blocks no longer used but one, so that appends and pops at a block's edge
// do not allocate and free by turns; clear() frees them all, and
// clear_keeping_room() none.
//
// Unlike std::vector, references to items stay valid when the sequence grows
// past its first block (not while that first block is still doubling), and
// iterators are positions: an iterator stays valid across growth and points
// at whatever item is at its position.
//
// Not thread-safe: the owner guards it.
#ifndef SHOAL_SERVER_OBJECTS_BLOCK_VECTOR_H_
#define SHOAL_SERVER_OBJECTS_BLOCK_VECTOR_H_

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace shoal::server {

template <typename T, size_t kBlockItems = 256>
class BlockVector {
  static constexpr size_t Log2(size_t n) { return n <= 1 ? 0 : 1 + Log2(n / 2); }

 public:
  static_assert(kBlockItems >= 4 && (kBlockItems & (kBlockItems - 1)) == 0,
                "blocks hold a power of two items, at least 4");
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "the first block's growth moves items and must not fail halfway");
  static constexpr size_t kShift = Log2(kBlockItems);
  static constexpr size_t kMask = kBlockItems - 1;
  // Room for this many in the first allocation.
  static constexpr size_t kFirstItems = 4;

  // A position in a BlockVector (random access; kConst for const_iterator).
  template <bool kConst>
  class Iter {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = std::conditional_t<kConst, const T*, T*>;
    using reference = std::conditional_t<kConst, const T&, T&>;
    using Owner = std::conditional_t<kConst, const BlockVector, BlockVector>;

    Iter() = default;
    Iter(Owner* owner, size_t at) : owner_(owner), at_(at) {}
    // iterator converts to const_iterator.
    template <bool kOther, typename = std::enable_if_t<kConst && !kOther>>
    Iter(const Iter<kOther>& other) : owner_(other.owner_), at_(other.at_) {}  // NOLINT

    reference operator*() const { return (*owner_)[at_]; }
    pointer operator->() const { return &(*owner_)[at_]; }
    reference operator[](difference_type n) const { return (*owner_)[Offset(n)]; }

    Iter& operator++() {
      ++at_;
      return *this;
    }
    Iter operator++(int) {
      Iter old = *this;
      ++at_;
      return old;
    }
    Iter& operator--() {
      --at_;
      return *this;
    }
    Iter operator--(int) {
      Iter old = *this;
      --at_;
      return old;
    }
    Iter& operator+=(difference_type n) {
      at_ = Offset(n);
      return *this;
    }
    Iter& operator-=(difference_type n) {
      at_ = Offset(-n);
      return *this;
    }
    friend Iter operator+(Iter it, difference_type n) { return it += n; }
    friend Iter operator+(difference_type n, Iter it) { return it += n; }
    friend Iter operator-(Iter it, difference_type n) { return it -= n; }
    friend difference_type operator-(const Iter& a, const Iter& b) {
      return static_cast<difference_type>(a.at_) - static_cast<difference_type>(b.at_);
    }
    friend bool operator==(const Iter& a, const Iter& b) { return a.at_ == b.at_; }
    friend bool operator!=(const Iter& a, const Iter& b) { return a.at_ != b.at_; }
    friend bool operator<(const Iter& a, const Iter& b) { return a.at_ < b.at_; }
    friend bool operator>(const Iter& a, const Iter& b) { return a.at_ > b.at_; }
    friend bool operator<=(const Iter& a, const Iter& b) { return a.at_ <= b.at_; }
    friend bool operator>=(const Iter& a, const Iter& b) { return a.at_ >= b.at_; }

    // The position: the index of the item it points at.
    size_t index() const { return at_; }

   private:
    template <bool>
    friend class Iter;
    size_t Offset(difference_type n) const {
      return static_cast<size_t>(static_cast<difference_type>(at_) + n);
    }

    Owner* owner_ = nullptr;
    size_t at_ = 0;
  };
  using iterator = Iter<false>;
  using const_iterator = Iter<true>;
  using value_type = T;
  using size_type = size_t;

  BlockVector() = default;
  // The items of a vector, moved in.
  explicit BlockVector(std::vector<T>&& items) {
    reserve(items.size());
    for (T& item : items) emplace_back(std::move(item));
  }
  BlockVector(BlockVector&& other) noexcept { Steal(other); }
  BlockVector& operator=(BlockVector&& other) noexcept {
    if (this != &other) {
      clear();
      Steal(other);
    }
    return *this;
  }
  BlockVector(const BlockVector&) = delete;
  BlockVector& operator=(const BlockVector&) = delete;
  ~BlockVector() { clear(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t max_size() const {
    return static_cast<size_t>(std::numeric_limits<std::ptrdiff_t>::max()) / sizeof(T);
  }
  // Items it can hold before it allocates again.
  size_t capacity() const { return capacity_; }

  T& operator[](size_t i) { return blocks_[i >> kShift][i & kMask]; }
  const T& operator[](size_t i) const { return blocks_[i >> kShift][i & kMask]; }
  T& front() { return (*this)[0]; }
  const T& front() const { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }
  const T& back() const { return (*this)[size_ - 1]; }

  iterator begin() { return iterator(this, 0); }
  iterator end() { return iterator(this, size_); }
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, size_); }
  const_iterator cbegin() const { return begin(); }
  const_iterator cend() const { return end(); }

  // Room for n items in all: later appends up to n allocate nothing.
  void reserve(size_t n) {
    if (n <= capacity_) return;
    if (blocks_.size() <= 1 && capacity_ < kBlockItems) {
      size_t room = std::max(kFirstItems, capacity_ * 2);
      while (room < n && room < kBlockItems) room *= 2;
      RegrowFirst(std::min(room, kBlockItems));
    }
    // The blocks' pointers grow geometrically, as a vector's items would:
    // reserving exactly would copy them all every kBlockItems appends.
    const size_t blocks = (n + kMask) >> kShift;
    if (blocks > blocks_.capacity()) blocks_.reserve(std::max(blocks, 2 * blocks_.capacity()));
    while (capacity_ < n) {
      blocks_.push_back(Allocate(kBlockItems));  // Room reserved: no throw.
      capacity_ += kBlockItems;
    }
  }

  // Appends an item made of args; it may be made of an item of this
  // sequence (as push_back(v[0]) is).
  template <typename... Args>
  T& emplace_back(Args&&... args) {
    if (size_ == capacity_) return EmplaceBackGrowing(std::forward<Args>(args)...);
    T* slot = &(*this)[size_];
    ::new (static_cast<void*>(slot)) T(std::forward<Args>(args)...);
    ++size_;
    return *slot;
  }
  void push_back(const T& item) { emplace_back(item); }
  void push_back(T&& item) { emplace_back(std::move(item)); }

  void pop_back() {
    --size_;
    std::destroy_at(&(*this)[size_]);
    if ((size_ & kMask) == 0) Trim();
  }

  // Inserts item before pos; returns where it now is.
  iterator insert(const_iterator pos, T item) {
    const size_t at = pos.index();
    emplace_back(std::move(item));
    std::rotate(begin() + Diff(at), end() - 1, end());
    return begin() + Diff(at);
  }
  // Inserts [first, last) before pos, in their order; returns where the
  // first of them now is. Room is made first: when T is made from *first
  // without throwing (moved), nothing fails once that is done.
  template <typename ForwardIt>
  iterator insert(const_iterator pos, ForwardIt first, ForwardIt last) {
    const size_t at = pos.index();
    const size_t before = size_;
    reserve(size_ + static_cast<size_t>(std::distance(first, last)));
    for (; first != last; ++first) emplace_back(*first);
    std::rotate(begin() + Diff(at), begin() + Diff(before), end());
    return begin() + Diff(at);
  }

  // Removes [first, last); returns the position after the removed items
  // (where the first item after them now is).
  iterator erase(const_iterator first, const_iterator last) {
    const size_t from = first.index();
    const size_t count = last.index() - from;
    if (count == 0) return begin() + Diff(from);
    std::move(begin() + Diff(from + count), end(), begin() + Diff(from));
    Truncate(size_ - count);
    return begin() + Diff(from);
  }
  iterator erase(const_iterator pos) { return erase(pos, pos + 1); }

  // Shrinks to n items, or grows with items made by T().
  void resize(size_t n) {
    if (n < size_) {
      Truncate(n);
      return;
    }
    reserve(n);
    while (size_ < n) emplace_back();
  }

  // Destroys every item and keeps every block, as std::vector::clear keeps
  // its capacity: a list emptied and filled again does not give its memory
  // back to be faulted in anew each time.
  void clear_keeping_room() {
    for (size_t i = 0; i < size_; ++i) std::destroy_at(&(*this)[i]);
    size_ = 0;
  }

  // Destroys every item and frees every block.
  void clear() {
    Truncate(0);
    for (size_t b = 0; b < blocks_.size(); ++b) Free(b);
    blocks_.clear();
    blocks_.shrink_to_fit();
    capacity_ = 0;
  }

 private:
  static std::ptrdiff_t Diff(size_t n) { return static_cast<std::ptrdiff_t>(n); }

  // emplace_back when there is no room left: the item is made before the
  // growth, which may move what args refer to.
  template <typename... Args>
  __attribute__((noinline)) T& EmplaceBackGrowing(Args&&... args) {
    T made(std::forward<Args>(args)...);
    reserve(size_ + 1);
    T* slot = &(*this)[size_];
    ::new (static_cast<void*>(slot)) T(std::move(made));
    ++size_;
    return *slot;
  }

  static T* Allocate(size_t n) { return std::allocator<T>().allocate(n); }
  // The first block has room for capacity_ items while it is alone.
  size_t BlockRoom(size_t block) const {
    return block == 0 && blocks_.size() == 1 ? capacity_ : kBlockItems;
  }
  void Free(size_t block) { std::allocator<T>().deallocate(blocks_[block], BlockRoom(block)); }

  // The first (and only) block, moved to one with room for `room` items.
  void RegrowFirst(size_t room) {
    if (blocks_.empty()) blocks_.reserve(1);
    T* grown = Allocate(room);
    if (blocks_.empty()) {
      blocks_.push_back(grown);  // Room reserved: no throw.
    } else {
      T* old = blocks_[0];
      for (size_t i = 0; i < size_; ++i) {
        ::new (static_cast<void*>(grown + i)) T(std::move(old[i]));
        std::destroy_at(old + i);
      }
      Free(0);
      blocks_[0] = grown;
    }
    capacity_ = room;
  }

  // Destroys the items from n on, then frees the blocks left unused but one.
  void Truncate(size_t n) {
    for (size_t i = n; i < size_; ++i) std::destroy_at(&(*this)[i]);
    size_ = n;
    Trim();
  }

  void Trim() {
    const size_t used = std::max<size_t>(1, (size_ + kMask) >> kShift);
    while (blocks_.size() > used + 1) {
      Free(blocks_.size() - 1);
      blocks_.pop_back();
      capacity_ -= kBlockItems;
    }
  }

  void Steal(BlockVector& other) {
    blocks_ = std::move(other.blocks_);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    other.blocks_.clear();
  }

  // Block b holds items [b * kBlockItems, (b + 1) * kBlockItems). The first
  // has room for kBlockItems whenever there is a second; alone, for
  // capacity_ (4 to kBlockItems).
  std::vector<T*> blocks_;
  size_t size_ = 0;
  // The room of all the blocks.
  size_t capacity_ = 0;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_BLOCK_VECTOR_H_
