// The server's core: the object registry and the factory that fills it, the
// sessions, the handshake's challenges, the memory budget and the limits on
// parked calls, plus the housekeeping thread that ends sessions whose time
// ran out (their lease, their stream's grace, or, for a session with a
// stream, a lease without a sign of life: its stream is ended too) and
// collects unreachable objects. It also holds the server's incarnation
// (shared/incarnation.h), drawn when it is made.
//
// Thread-safe. The transport layer holds one Core for the server's lifetime.
#ifndef SHOAL_SERVER_CORE_CORE_H_
#define SHOAL_SERVER_CORE_CORE_H_

#include <cstdint>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "absl/time/time.h"
#include "server/core/challenges.h"
#include "server/core/object_factory.h"
#include "server/core/registry.h"
#include "server/core/sessions.h"
#include "server/core/timer_queue.h"
#include "server/objects/memory_budget.h"
#include "server/objects/parking_limits.h"
#include "shared/incarnation.h"
#include "shared/mutex.h"

namespace shoal::server {

struct CoreOptions {
  std::string authkey;
  // A session without a stream ends this long after its last call; one with
  // a stream, this long after the last frame read from it.
  absl::Duration lease = absl::Seconds(30);
  // A session whose stream broke ends this long after, unless a stream returns.
  absl::Duration stream_grace = absl::Seconds(2);
  absl::Duration challenge_ttl = absl::Seconds(10);
  // Most successful logins remembered at once to refuse their replay: one
  // challenge_ttl's worth (see Challenges). Issuing a challenge stores nothing.
  size_t max_challenges = 10000;
  // <= 0: no limit.
  int64_t max_objects = 1000000;
  int64_t max_bytes = int64_t{1} << 30;
  // The most calls one session may have parked at once (<= 0: no limit).
  // Each parked call also counts kParkedCallBytes against max_bytes.
  int64_t max_parked_per_session = 65536;
  // The largest message the transport accepts; told to clients at login.
  int64_t max_message_bytes = 16 << 20;
  // A connection that has not logged in this long after it was accepted is
  // closed (the framed transport); a gRPC connection with no call open this
  // long is closed too. Positive,
  // and at most 24 hours.
  absl::Duration login_timeout = absl::Seconds(10);
  // Most framed connections waiting to log in at once; past it, the oldest
  // waiting is closed.
  size_t max_pending_logins = 1024;
  // How often housekeeping looks for expired sessions.
  absl::Duration tick = absl::Milliseconds(100);
  // How long housekeeping, woken by a reference that went, waits for more
  // to go before it frees what they left: objects dropped in a loop cost
  // one wake-up of its thread per this long, not one per object.
  absl::Duration collect_delay = absl::Milliseconds(1);
};

class Core {
 public:
  explicit Core(CoreOptions options);
  // Stops the housekeeping thread.
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  const CoreOptions& options() const { return options_; }
  // This start of the server, random and never 0: object ids are only
  // meaningful together with it.
  uint64_t incarnation() const { return incarnation_; }
  Registry& registry() { return registry_; }
  ObjectFactory& factory() { return factory_; }
  Sessions& sessions() { return sessions_; }
  Challenges& challenges() { return challenges_; }
  MemoryBudget& budget() { return budget_; }
  // The limits every parked call counts against.
  ParkingLimits& parking() { return parking_; }
  // The one timer thread behind every deadline of a parked call.
  Timers& timers() { return timers_; }

  // Ends a session now and gives back everything it held: its parked calls
  // are answered with CancelledError, its Lock, RLock and Semaphore holdings
  // go to the next waiters, a Barrier it waits on breaks, its references are
  // dropped. False when it had ended already. Must not be called with the
  // registry's collector lock held (it waits for the calls in flight).
  bool EndSession(SessionId id);
  // Drops one of session's references to each of ids (Registry::Release),
  // and has what that left unreachable collected soon.
  void ReleaseRefs(SessionId session, absl::Span<const uint64_t> ids);
  // Removes a name (Registry::DeleteName), and has its object collected soon
  // if nothing else refers to it. KeyError when no object has that name.
  absl::Status DeleteName(const std::string& name);
  // Whether an object named by id (or name) under incarnation (16 hex
  // digits; empty for this start's) may be looked up in this start of the
  // server. KeyError, saying the object is gone, when incarnation is another
  // start's: the id may name another object now. ValueError when
  // incarnation is malformed.
  absl::Status CheckIncarnation(absl::string_view incarnation, uint64_t id,
                                absl::string_view name) const;
  // Asks the housekeeping thread to collect soon.
  void RequestCollect();
  // One round of housekeeping; the thread calls it every tick.
  void Housekeep(absl::Time now);

 private:
  void Loop();
  void GiveBack(SessionId id);

  const CoreOptions options_;
  const uint64_t incarnation_ = NewIncarnation();
  MemoryBudget budget_;
  // Before the registry: the objects' parked calls hold permits.
  ParkingLimits parking_;
  // Before the registry: objects cancel their timers when destroyed.
  TimerQueue timers_;
  Registry registry_;
  ObjectFactory factory_;
  Sessions sessions_;
  Challenges challenges_;

  Mutex loop_mu_;
  bool stop_ ABSL_GUARDED_BY(loop_mu_) = false;
  bool wake_ ABSL_GUARDED_BY(loop_mu_) = false;
  std::thread thread_;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_CORE_CORE_H_
