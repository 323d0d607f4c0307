// Timeouts as clients send them: a number of seconds, where +inf means none
// and a negative number or NaN is no timeout at all. Each caller refuses the
// latter with its own ValueError, naming what the timeout was for.
#ifndef SHOAL_SERVER_CORE_TIMEOUT_H_
#define SHOAL_SERVER_CORE_TIMEOUT_H_

#include <cmath>
#include <optional>

#include "absl/time/time.h"

namespace shoal::server {

// The duration of a timeout of seconds: absl::InfiniteDuration() for +inf
// (and for a number of seconds too large to hold), nullopt for a negative
// number or NaN.
inline std::optional<absl::Duration> TimeoutFromSeconds(double seconds) {
  if (std::isnan(seconds) || seconds < 0) return std::nullopt;
  if (std::isinf(seconds)) return absl::InfiniteDuration();
  return absl::Seconds(seconds);
}

}  // namespace shoal::server

#endif  // SHOAL_SERVER_CORE_TIMEOUT_H_
