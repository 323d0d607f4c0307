#include "server/objects/parking_limits.h"

#include <cassert>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"

namespace shoal::server {

void ParkingPermit::Reset() {
  if (limits_ == nullptr) return;
  ParkingLimits* limits = limits_;
  limits_ = nullptr;
  limits->Release(session_);
}

ParkingLimits::~ParkingLimits() {
  MutexLock lock(&mu_);
  assert(total_ == 0 && "every permit is given back before the limits go");
}

absl::StatusOr<ParkingPermit> ParkingLimits::Admit(SessionId session) {
  MutexLock lock(&mu_);
  auto it = parked_.find(session);
  const int64_t held = it == parked_.end() ? 0 : it->second;
  if (max_per_session_ > 0 && held >= max_per_session_) {
    return error::LimitError(absl::StrCat("parked-call limit reached: this session has ", held,
                                          " calls waiting, the most --max-parked-per-session (",
                                          max_per_session_, ") allows"));
  }
  if (budget_ != nullptr) {
    absl::Status reserved = budget_->Reserve(kParkedCallBytes);
    if (!reserved.ok()) {
      return error::LimitError(
          absl::StrCat("cannot park the call (--max-bytes): ", reserved.message()));
    }
  }
  ++parked_[session];
  ++total_;
  return ParkingPermit(this, session);
}

void ParkingLimits::Release(SessionId session) {
  MutexLock lock(&mu_);
  auto it = parked_.find(session);
  assert(it != parked_.end() && it->second > 0);
  if (it == parked_.end()) return;
  if (--it->second == 0) parked_.erase(it);
  --total_;
  if (budget_ != nullptr) budget_->Release(kParkedCallBytes);
}

int64_t ParkingLimits::parked(SessionId session) const {
  MutexLock lock(&mu_);
  auto it = parked_.find(session);
  return it == parked_.end() ? 0 : it->second;
}

int64_t ParkingLimits::total() const {
  MutexLock lock(&mu_);
  return total_;
}

}  // namespace shoal::server
