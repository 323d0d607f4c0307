// What the parent and the worker processes of shoal-soak share: the objects
// they work on, the kinds of operation they count, and the lines a worker
// reports on its standard output (one line per acknowledged operation that
// an invariant needs, written after the server's reply arrived):
//
//   U                        a session connected
//   C V | S V | L V | R V | D V
//                            the new value of a counter: Value.add(1) (C),
//                            a compare_and_swap (S), a get and set under the
//                            Lock (L), the RLock (R), the Condition's lock (D)
//   A Q W S N | P Q W S N | F Q W S N | G Q W S N
//                            item N of session S of worker W on queue Q
//                            (q: the Queue, j: the JoinableQueue): about to be
//                            put (A), put (P), refused with Full (F), got (G)
//   N C0 C1 ...              operations acknowledged since the last N line,
//                            one count per OpKind
//   X TEXT                   a worker saw a broken invariant
//   E TEXT                   an operation failed in a way it never should
#ifndef SHOAL_TOOLS_SOAK_SOAK_H_
#define SHOAL_TOOLS_SOAK_SOAK_H_

#include <cstdint>
#include <string>

#include "shoal/manager.h"

namespace shoal::soak {

enum OpKind {
  kOpList,
  kOpDict,
  kOpNamespace,
  kOpValue,
  kOpLock,
  kOpRLock,
  kOpSemaphore,
  kOpBoundedSemaphore,
  kOpCondition,
  kOpEvent,
  kOpBarrier,
  kOpQueue,
  kOpJoinableQueue,
  kOpNested,
  kOpManager,
  kOpKinds,
};

const char* OpKindName(int kind);

// The initial counts and sizes of the shared objects.
inline constexpr int64_t kSemaphoreValue = 3;
inline constexpr int64_t kBoundedSemaphoreValue = 2;
inline constexpr int64_t kBarrierParties = 3;
inline constexpr int64_t kQueueMaxsize = 64;

// Both semaphores guard a pool, whose permits must come back from a worker
// killed while it holds one: made so explicitly, whichever the kind's default.
inline SemaphoreOptions PoolSemaphore() {
  SemaphoreOptions options;
  options.release_at_session_end = true;
  return options;
}

// The names of the shared objects, under a prefix of the run's own.
struct Names {
  explicit Names(const std::string& prefix);
  std::string list, dict, ns, counter, cas, lock, lock_count, rlock, rlock_count, semaphore,
      bounded, condition, condition_count, event, barrier, queue, joinable, nested;
};

// Gets or creates every shared object, as the parent does before the workers
// start and each worker session does when it connects.
void CreateObjects(const Manager& m, const Names& names);

struct WorkerOptions {
  std::string address;
  std::string authkey_file;
  std::string prefix;
  // The worker's id, unique in the run (a restarted worker gets a new one).
  uint64_t id = 0;
  int sessions = 8;
  uint64_t seed = 1;
  // framed, grpc, or mixed (sessions alternate).
  std::string transport = "mixed";
};

// A worker process: runs the sessions until its standard input closes (then
// stops cleanly, exit code 0) or it is killed.
int RunWorker(const WorkerOptions& options);

}  // namespace shoal::soak

#endif  // SHOAL_TOOLS_SOAK_SOAK_H_
