// A BudgetAccount is the share of a MemoryBudget that one object holds: it
// reserves before the object stores, releases when the object drops, and
// gives back whatever is still held when it is destroyed. A null budget means
// unlimited; the account still counts what it holds.
//
// Thread-safety: not synchronized. The owning object guards its account with
// the same mutex as the values it accounts for, so that the held count always
// matches the stored values. The MemoryBudget itself is thread-safe and must
// outlive the account.
#ifndef SHOAL_SERVER_OBJECTS_BUDGET_ACCOUNT_H_
#define SHOAL_SERVER_OBJECTS_BUDGET_ACCOUNT_H_

#include <cstdint>

#include "absl/status/status.h"
#include "server/objects/memory_budget.h"

namespace shoal::server {

class BudgetAccount {
 public:
  // Adopts `held` bytes that the caller has already reserved from budget;
  // they are released with the account.
  explicit BudgetAccount(MemoryBudget* budget, int64_t held = 0) : budget_(budget), held_(held) {}
  ~BudgetAccount() { ReleaseAll(); }
  BudgetAccount(const BudgetAccount&) = delete;
  BudgetAccount& operator=(const BudgetAccount&) = delete;

  // Reserves bytes more, or fails with LimitError and changes nothing.
  absl::Status Reserve(int64_t bytes);
  // Gives back bytes that the account holds.
  void Release(int64_t bytes);
  // Moves the holding by delta: reserves when positive (and may fail, changing
  // nothing), releases when negative. Used when a stored value is replaced,
  // so that a replacement that shrinks never fails near the limit.
  absl::Status Adjust(int64_t delta);
  // Gives back everything held.
  void ReleaseAll();

  int64_t held() const { return held_; }
  MemoryBudget* budget() const { return budget_; }

 private:
  MemoryBudget* const budget_;
  int64_t held_;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_BUDGET_ACCOUNT_H_
