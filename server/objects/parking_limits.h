// The server's limits on parked calls. A parked call holds memory in the
// server (its waiter in its object's list, its completion with the reply it
// will send, its session's record of the call in flight) until it is
// answered, so it counts like a stored value: kParkedCallBytes of the
// MemoryBudget each, and at most a fixed number per session, so that one
// session cannot take the whole budget with calls that never end.
//
// A ParkingPermit is that charge for one parked call. WaiterList::Park takes
// one before it parks a waiter and keeps it in the waiter's entry, so it is
// given back when the waiter leaves the list, whichever way it leaves (see
// waiter_list.h): exactly once.
//
// Thread-safe. Must outlive every permit it issued.
#ifndef SHOAL_SERVER_OBJECTS_PARKING_LIMITS_H_
#define SHOAL_SERVER_OBJECTS_PARKING_LIMITS_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "server/objects/memory_budget.h"
#include "server/objects/waiting.h"
#include "shared/mutex.h"

namespace shoal::server {

// What one parked call is charged to the MemoryBudget: a measured server
// holds about 315 bytes per parked call (its waiter entry and completion,
// the reply's closure, the session's in-flight record).
inline constexpr int64_t kParkedCallBytes = 320;

class ParkingLimits;

// The charge of one parked call; gives it back when destroyed. Move-only; a
// default-constructed (or moved-from) permit holds nothing.
class ParkingPermit {
 public:
  ParkingPermit() = default;
  ~ParkingPermit() { Reset(); }
  ParkingPermit(ParkingPermit&& other) noexcept
      : limits_(other.limits_), session_(other.session_) {
    other.limits_ = nullptr;
  }
  ParkingPermit& operator=(ParkingPermit&& other) noexcept {
    if (this != &other) {
      Reset();
      limits_ = other.limits_;
      session_ = other.session_;
      other.limits_ = nullptr;
    }
    return *this;
  }
  ParkingPermit(const ParkingPermit&) = delete;
  ParkingPermit& operator=(const ParkingPermit&) = delete;

  // Gives the charge back now.
  void Reset();

 private:
  friend class ParkingLimits;
  ParkingPermit(ParkingLimits* limits, SessionId session) : limits_(limits), session_(session) {}

  ParkingLimits* limits_ = nullptr;
  SessionId session_ = 0;
};

class ParkingLimits {
 public:
  // budget may be null (no memory limit); max_per_session <= 0 means no
  // per-session limit.
  ParkingLimits(MemoryBudget* budget, int64_t max_per_session)
      : budget_(budget), max_per_session_(max_per_session) {}
  ~ParkingLimits();
  ParkingLimits(const ParkingLimits&) = delete;
  ParkingLimits& operator=(const ParkingLimits&) = delete;

  // Charges one more parked call to session, or fails with LimitError
  // (naming the limit reached) and charges nothing.
  absl::StatusOr<ParkingPermit> Admit(SessionId session) ABSL_LOCKS_EXCLUDED(mu_);

  // The calls parked by session, and by every session.
  int64_t parked(SessionId session) const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t total() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t max_per_session() const { return max_per_session_; }

 private:
  friend class ParkingPermit;
  void Release(SessionId session) ABSL_LOCKS_EXCLUDED(mu_);

  MemoryBudget* const budget_;
  const int64_t max_per_session_;
  mutable Mutex mu_;
  // Only sessions with a parked call have an entry.
  absl::flat_hash_map<SessionId, int64_t> parked_ ABSL_GUARDED_BY(mu_);
  int64_t total_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_PARKING_LIMITS_H_
