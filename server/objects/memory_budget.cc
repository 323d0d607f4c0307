#include "server/objects/memory_budget.h"

#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"

namespace shoal::server {

absl::Status MemoryBudget::Reserve(int64_t bytes) {
  if (bytes <= 0) return absl::OkStatus();
  // Without a limit, the only bound is what the counter can hold; a request
  // that large can only come from an overflowing size computation.
  const int64_t cap = limit_ > 0 ? limit_ : std::numeric_limits<int64_t>::max();
  int64_t current = used_.load(std::memory_order_relaxed);
  do {
    // Written as a subtraction so that a huge request cannot overflow.
    if (bytes > cap - current) {
      return error::LimitError(absl::StrCat("memory limit reached: ", bytes,
                                            " more bytes requested, ", current, " of ",
                                            limit_ > 0 ? limit_ : cap, " bytes in use"));
    }
  } while (!used_.compare_exchange_weak(current, current + bytes, std::memory_order_relaxed));
  return absl::OkStatus();
}

void MemoryBudget::Release(int64_t bytes) {
  if (bytes <= 0) return;
  used_.fetch_sub(bytes, std::memory_order_relaxed);
}

int64_t ApproxBytes(const Value& value) {
  int64_t bytes = static_cast<int64_t>(sizeof(Value));
  switch (value.type()) {
    case Value::Type::kStr:
      bytes += static_cast<int64_t>(value.as_str().size());
      break;
    case Value::Type::kBytes:
      bytes += static_cast<int64_t>(value.as_bytes().size());
      break;
    case Value::Type::kList:
      for (const Value& item : value.as_list()) bytes += ApproxBytes(item);
      break;
    case Value::Type::kDict:
      for (const auto& [key, item] : value.as_dict()) bytes += ApproxEntryBytes(key, item);
      break;
    default:
      break;
  }
  return bytes;
}

int64_t ApproxEntryBytes(const Value& key, const Value& value) {
  return ApproxBytes(key) + ApproxBytes(value) + kDictEntryOverhead;
}

}  // namespace shoal::server
