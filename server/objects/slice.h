// Python's slice resolution, written once for every sliced operation: what
// slice(start, stop, step).indices(length) returns, plus the number of items
// the slice selects. A plain value type; thread-compatible.
#ifndef SHOAL_SERVER_OBJECTS_SLICE_H_
#define SHOAL_SERVER_OBJECTS_SLICE_H_

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"

namespace shoal::server {

struct ResolvedSlice {
  // As slice.indices(length): start and stop clamped into the sequence
  // (stop may be -1 for a negative step), step never zero.
  int64_t start = 0;
  int64_t stop = 0;
  int64_t step = 1;
  // How many items the slice selects: len(range(start, stop, step)).
  int64_t count = 0;

  // The sequence index of the i-th selected item, 0 <= i < count.
  int64_t IndexAt(int64_t i) const { return start + i * step; }
};

// Resolves seq[start:stop:step] for a sequence of `length` items; an unset
// bound is Python's None. A zero step is ValueError "slice step cannot be
// zero". A step below -INT64_MAX is taken as -INT64_MAX, as CPython does, so
// that it can be negated; it selects the same items.
absl::StatusOr<ResolvedSlice> ResolveSlice(std::optional<int64_t> start,
                                           std::optional<int64_t> stop, std::optional<int64_t> step,
                                           int64_t length);

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_SLICE_H_
