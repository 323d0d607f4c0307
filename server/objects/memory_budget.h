// The server-wide limit on bytes held in shared objects. Object classes
// reserve before they store and release when they drop, so a write past the
// limit fails with LimitError and changes nothing.
#ifndef SHOAL_SERVER_OBJECTS_MEMORY_BUDGET_H_
#define SHOAL_SERVER_OBJECTS_MEMORY_BUDGET_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "shoal/value.h"

namespace shoal::server {

// Thread-safe (atomic counter).
class MemoryBudget {
 public:
  // limit <= 0 means no limit.
  explicit MemoryBudget(int64_t limit) : limit_(limit) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Reserves bytes, or fails with LimitError and reserves nothing.
  absl::Status Reserve(int64_t bytes);
  void Release(int64_t bytes);
  int64_t used() const { return used_.load(std::memory_order_relaxed); }
  int64_t limit() const { return limit_; }

 private:
  const int64_t limit_;
  std::atomic<int64_t> used_{0};
};

// What one dict entry costs beyond its key and value: the links of its node
// in the ordered entry list and its node and bucket in the hash index.
inline constexpr int64_t kDictEntryOverhead = 64;

// An estimate of the memory a value takes in the server, recursively:
// sizeof(Value), plus the characters of a str or bytes, plus the items of a
// list, plus the entries of a dict (ApproxEntryBytes each).
int64_t ApproxBytes(const Value& value);

// An estimate of one dict entry (or Namespace attribute): both values plus
// kDictEntryOverhead. A dict object charges this much per entry, so that its
// total matches ApproxBytes of the same dict held as a value.
int64_t ApproxEntryBytes(const Value& key, const Value& value);

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_MEMORY_BUDGET_H_
