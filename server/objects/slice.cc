#include "server/objects/slice.h"

#include <limits>

#include "shared/error_kind.h"

namespace shoal::server {
namespace {

// Python's rule for one bound: a negative bound counts from the end, and the
// result is clamped into [lowest, highest]. For a positive step that range is
// [0, length]; for a negative one it is [-1, length - 1], where -1 means
// "before the first item".
int64_t ClampBound(int64_t bound, int64_t length, int64_t lowest, int64_t highest) {
  if (bound < 0) {
    bound += length;  // Cannot overflow: bound < 0 <= length.
    return bound < lowest ? lowest : bound;
  }
  return bound > highest ? highest : bound;
}

}  // namespace

absl::StatusOr<ResolvedSlice> ResolveSlice(std::optional<int64_t> start,
                                           std::optional<int64_t> stop, std::optional<int64_t> step,
                                           int64_t length) {
  ResolvedSlice slice;
  slice.step = step.value_or(1);
  if (slice.step == 0) return error::ValueError("slice step cannot be zero");
  if (slice.step < -std::numeric_limits<int64_t>::max()) {
    slice.step = -std::numeric_limits<int64_t>::max();
  }
  const bool backward = slice.step < 0;
  const int64_t lowest = backward ? -1 : 0;
  const int64_t highest = backward ? length - 1 : length;

  slice.start = start.has_value() ? ClampBound(*start, length, lowest, highest)
                                  : (backward ? highest : lowest);
  slice.stop =
      stop.has_value() ? ClampBound(*stop, length, lowest, highest) : (backward ? lowest : highest);

  // Both bounds lie in [-1, length], so the differences cannot overflow.
  if (backward) {
    slice.count = slice.start > slice.stop ? (slice.start - slice.stop - 1) / -slice.step + 1 : 0;
  } else {
    slice.count = slice.stop > slice.start ? (slice.stop - slice.start - 1) / slice.step + 1 : 0;
  }
  return slice;
}

}  // namespace shoal::server
