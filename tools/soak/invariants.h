// The invariants shoal-soak checks at the end of a run, as pure functions of
// what the workers acknowledged and what the server holds afterwards. Each
// returns a Check: whether it held, and the figures that show it.
#ifndef SHOAL_TOOLS_SOAK_INVARIANTS_H_
#define SHOAL_TOOLS_SOAK_INVARIANTS_H_

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

namespace shoal::soak {

struct Check {
  std::string name;
  bool ok = false;
  std::string detail;
};

// A shared counter that every operation moves from n to n + 1 (Value.add(1),
// or a get and set made under a lock), starting at 0. acked holds the new
// value each acknowledged operation reported. Holds when every acknowledged
// value is distinct (no operation was applied twice, no two holders of a lock
// read the same value) and lies in [1, final_value], and at most max_unacked
// of the final_value operations applied went unacknowledged (those in flight
// in a process that was killed).
Check CheckCounter(const std::string& name, std::vector<int64_t> acked, int64_t final_value,
                   int64_t max_unacked);

// The items of one queue. Each is a 64-bit key naming its producer and its
// sequence number. attempted: the producer was about to put it; acked: put()
// returned; rejected: put() failed with Full; received: every get() that
// returned it, and what was drained from the queue at the end.
struct QueueLedger {
  std::unordered_set<uint64_t> attempted;
  std::unordered_set<uint64_t> acked;
  std::unordered_set<uint64_t> rejected;
  std::vector<uint64_t> received;
};

// Holds when no item was received twice, every item received was attempted
// and not rejected, every acknowledged put was attempted, and at most
// max_lost acknowledged items were never received (those a get took for a
// consumer that was killed before it could report them).
Check CheckQueue(const std::string& name, const QueueLedger& ledger, int64_t max_lost);

// Holds when after <= before * factor + slack: the server's resident memory
// or thread count did not grow past a bound between two samples.
Check CheckGrowth(const std::string& name, int64_t before, int64_t after, double factor,
                  int64_t slack, const std::string& unit);

// An equality every run must end with, such as the object count and its
// baseline.
Check CheckEqual(const std::string& name, int64_t expected, int64_t actual);

// A key for a queue item: the producer's worker id, its session and the
// sequence number within that session.
uint64_t ItemKey(uint64_t worker, uint64_t session, uint64_t seq);

}  // namespace shoal::soak

#endif  // SHOAL_TOOLS_SOAK_INVARIANTS_H_
