// What the Manager's listings show: the live objects, each with who holds it
// and how many calls wait on it, and the sessions, each with the references it
// holds and what it holds and waits on. The listings join the registry with
// the sessions' table; the transport only encodes them.
//
// Thread-safe, as the registry and the sessions' table are. A listing is a
// snapshot: objects and sessions change while it is taken, so it may show a
// session that ended a moment ago, or miss one that just opened.
#ifndef SHOAL_SERVER_CORE_LISTING_H_
#define SHOAL_SERVER_CORE_LISTING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/registry.h"
#include "server/core/sessions.h"
#include "shoal/value.h"

namespace shoal::server {

// One session's hold on a synchronization object.
struct ObjectHolder {
  SessionId session = 0;
  // The session's client name; empty when the session has ended.
  std::string client;
  // 1 for a Lock, the recursion count of an RLock, the permits of a Semaphore.
  int64_t count = 0;
};

struct ObjectListing {
  uint64_t id = 0;
  Kind kind = Kind::kUnspecified;
  std::string name;
  int64_t session_refs = 0;
  int64_t container_refs = 0;
  int64_t size = 0;
  // Python's repr, cut with "..." in ListObjects.
  std::string repr;
  // A Value's or an Array's typecode; empty for the other kinds.
  std::string typecode;
  // Synchronization kinds only: the holders ordered by session, and the
  // calls parked on the object.
  std::vector<ObjectHolder> holders;
  int64_t waiting = 0;
};

// What one session holds of, or waits on, one synchronization object.
struct SessionHolding {
  uint64_t object_id = 0;
  Kind kind = Kind::kUnspecified;
  std::string name;
  // The count it holds (see ObjectHolder::count); 0 when it only waits.
  int64_t count = 0;
  // Its calls parked on the object.
  int64_t waiting = 0;
};

struct SessionListing {
  SessionId id = 0;
  std::string client;
  std::string peer;
  int streams = 0;
  // How long until the session ends unless it is heard from again (never
  // below zero); none while, without a stream, a unary call keeps it open.
  std::optional<absl::Duration> expires_in;
  // The references it holds, summed over objects.
  int64_t refs = 0;
  // Ordered by object id.
  std::vector<SessionHolding> holdings;
};

// A page of the live objects, ordered by id: at most page_size (0: the
// default, and never more than the most) with ids above after, after a
// collection of what went (Registry::Collect), with reprs cut to a listing's
// length. next_after is where the next page starts, 0 after the last.
struct ObjectPage {
  std::vector<ObjectListing> objects;
  uint64_t next_after = 0;
};
inline constexpr int64_t kDefaultPageSize = 1000;
inline constexpr int64_t kMaxPageSize = 10000;
ObjectPage ListObjects(Registry& registry, const Sessions& sessions, uint64_t after = 0,
                       int64_t page_size = 0);

// One object, by id or by name when id is 0, with its whole repr. KeyError
// when there is none.
absl::StatusOr<ObjectListing> DescribeObject(Registry& registry, const Sessions& sessions,
                                             uint64_t id, const std::string& name);

// Every live session, ordered by id, with expires_in measured from now.
std::vector<SessionListing> ListSessions(const Registry& registry, const Sessions& sessions,
                                         absl::Time now);

}  // namespace shoal::server

#endif  // SHOAL_SERVER_CORE_LISTING_H_
