#include "soak/invariants.h"

#include <algorithm>
#include <sstream>
#include <unordered_set>

namespace shoal::soak {

Check CheckCounter(const std::string& name, std::vector<int64_t> acked, int64_t final_value,
                   int64_t max_unacked) {
  Check check{name, true, ""};
  std::sort(acked.begin(), acked.end());
  int64_t duplicates = 0;
  for (size_t i = 1; i < acked.size(); ++i) {
    if (acked[i] == acked[i - 1]) ++duplicates;
  }
  int64_t out_of_range = 0;
  for (int64_t v : acked) {
    if (v < 1 || v > final_value) ++out_of_range;
  }
  const int64_t unacked = final_value - static_cast<int64_t>(acked.size());
  std::ostringstream detail;
  detail << "final " << final_value << ", acknowledged " << acked.size() << ", unacknowledged "
         << unacked << " (at most " << max_unacked << ")";
  if (duplicates > 0) detail << ", " << duplicates << " acknowledged twice";
  if (out_of_range > 0) detail << ", " << out_of_range << " outside [1, final]";
  check.ok = duplicates == 0 && out_of_range == 0 && unacked >= 0 && unacked <= max_unacked;
  check.detail = detail.str();
  return check;
}

Check CheckQueue(const std::string& name, const QueueLedger& ledger, int64_t max_lost) {
  std::unordered_set<uint64_t> received;
  int64_t duplicates = 0, unattempted = 0, rejected_received = 0;
  for (uint64_t item : ledger.received) {
    if (!received.insert(item).second) ++duplicates;
    if (ledger.attempted.count(item) == 0) ++unattempted;
    if (ledger.rejected.count(item) != 0) ++rejected_received;
  }
  int64_t acked_unattempted = 0, lost = 0;
  for (uint64_t item : ledger.acked) {
    if (ledger.attempted.count(item) == 0) ++acked_unattempted;
    if (received.count(item) == 0) ++lost;
  }
  std::ostringstream detail;
  detail << "attempted " << ledger.attempted.size() << ", acknowledged " << ledger.acked.size()
         << ", rejected (Full) " << ledger.rejected.size() << ", received "
         << ledger.received.size() << ", acknowledged but not received " << lost << " (at most "
         << max_lost << ")";
  if (duplicates > 0) detail << ", " << duplicates << " received twice";
  if (unattempted > 0) detail << ", " << unattempted << " received but never put";
  if (rejected_received > 0) detail << ", " << rejected_received << " received after Full";
  if (acked_unattempted > 0) detail << ", " << acked_unattempted << " acknowledged unattempted";
  Check check{name, duplicates == 0 && unattempted == 0 && rejected_received == 0 &&
                        acked_unattempted == 0 && lost <= max_lost,
              detail.str()};
  return check;
}

Check CheckGrowth(const std::string& name, int64_t before, int64_t after, double factor,
                  int64_t slack, const std::string& unit) {
  const double bound = static_cast<double>(before) * factor + static_cast<double>(slack);
  std::ostringstream detail;
  detail << before << " " << unit << " -> " << after << " " << unit << " (bound "
         << static_cast<int64_t>(bound) << ")";
  return Check{name, before > 0 && static_cast<double>(after) <= bound, detail.str()};
}

Check CheckEqual(const std::string& name, int64_t expected, int64_t actual) {
  std::ostringstream detail;
  detail << actual << " (expected " << expected << ")";
  return Check{name, expected == actual, detail.str()};
}

uint64_t ItemKey(uint64_t worker, uint64_t session, uint64_t seq) {
  return (worker << 40) | ((session & 0xff) << 32) | (seq & 0xffffffff);
}

}  // namespace shoal::soak
