#include "server/objects/budget_account.h"

namespace shoal::server {

absl::Status BudgetAccount::Reserve(int64_t bytes) {
  if (bytes <= 0) return absl::OkStatus();
  if (budget_ != nullptr) {
    absl::Status status = budget_->Reserve(bytes);
    if (!status.ok()) return status;
  }
  held_ += bytes;
  return absl::OkStatus();
}

void BudgetAccount::Release(int64_t bytes) {
  if (bytes <= 0) return;
  if (budget_ != nullptr) budget_->Release(bytes);
  held_ -= bytes;
}

absl::Status BudgetAccount::Adjust(int64_t delta) {
  if (delta > 0) return Reserve(delta);
  Release(-delta);
  return absl::OkStatus();
}

void BudgetAccount::ReleaseAll() {
  Release(held_);
  held_ = 0;
}

}  // namespace shoal::server
