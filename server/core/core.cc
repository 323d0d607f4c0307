#include "server/core/core.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "shared/error_kind.h"

namespace shoal::server {

Core::Core(CoreOptions options)
    : options_(std::move(options)),
      budget_(options_.max_bytes),
      parking_(&budget_, options_.max_parked_per_session),
      registry_(options_.max_objects),
      factory_(&registry_, &budget_, &timers_),
      sessions_(options_.lease, options_.stream_grace),
      challenges_(options_.authkey, options_.challenge_ttl, options_.max_challenges),
      thread_([this] { Loop(); }) {
  // A reference that went wakes the housekeeping thread, which frees what it
  // left unreferenced.
  registry_.set_wake([this] { RequestCollect(); });
}

Core::~Core() {
  // Values that outlive the loop must not wake it.
  registry_.set_wake(nullptr);
  {
    MutexLock lock(&loop_mu_);
    stop_ = true;
  }
  thread_.join();
}

bool Core::EndSession(SessionId id) {
  if (!sessions_.Close(id)) return false;
  GiveBack(id);
  return true;
}

void Core::GiveBack(SessionId id) {
  // The session is marked ended. A call of it that passed the liveness check
  // holds the collector lock shared until it has parked (see
  // Dispatcher::Invoke); taking the lock once exclusively waits those out, so
  // the loop below finds every wait the session will ever park.
  { MutexLock barrier(&registry_.collector_mutex()); }
  for (const ObjectSummary& sync : registry_.SyncObjects()) sync.object->EndSession(id);
  registry_.DropSession(id);
}

void Core::ReleaseRefs(SessionId session, absl::Span<const uint64_t> ids) {
  for (uint64_t id : ids) registry_.Release(session, id);
}

absl::Status Core::DeleteName(const std::string& name) {
  absl::Status deleted = registry_.DeleteName(name);
  return deleted;
}

absl::Status Core::CheckIncarnation(absl::string_view incarnation, uint64_t id,
                                    absl::string_view name) const {
  if (incarnation.empty()) return absl::OkStatus();
  uint64_t given = 0;
  if (!ParseIncarnation(incarnation, &given)) {
    return error::ValueError(absl::StrCat("malformed incarnation '", incarnation,
                                          "': expected 16 hex digits, such as ",
                                          FormatIncarnation(incarnation_)));
  }
  if (given == incarnation_) return absl::OkStatus();
  const std::string what =
      name.empty() || id != 0 ? absl::StrCat("object ", id) : absl::StrCat("'", name, "'");
  return error::KeyError(absl::StrCat(what, "@", FormatIncarnation(given),
                                      " is from another start of the server (this is ",
                                      FormatIncarnation(incarnation_),
                                      "); the object it named is gone"));
}

void Core::RequestCollect() {
  MutexLock lock(&loop_mu_);
  wake_ = true;
}

void Core::Housekeep(absl::Time now) {
  for (ExpiredSession& expired : sessions_.Expire(now)) {
    // A session whose client went silent while its connection stayed open
    // (a process stopped or frozen, a host paused): its streams end first,
    // saying why, so that its calls in flight fail with that reason rather
    // than as cancelled.
    if (!expired.streams.empty()) {
      const absl::Status why = MakeError(
          ErrorKind::kConnectionError,
          absl::StrCat("session ended: no heartbeat for ", absl::FormatDuration(options_.lease)));
      for (const std::shared_ptr<StreamLink>& stream : expired.streams) stream->End(why);
    }
    GiveBack(expired.id);
  }
  challenges_.Expire(now);
  if (registry_.collect_wanted()) registry_.Collect();
}

void Core::Loop() {
  for (;;) {
    {
      MutexLock lock(&loop_mu_);
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(loop_mu_) { return stop_ || wake_; };
      loop_mu_.AwaitWithTimeout(Condition(&woken), options_.tick);
      if (stop_) return;
      if (wake_) {
        // The references that go in the next moment join this one's
        // collection; they do not wake the thread again (see ReleaseQueue).
        auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(loop_mu_) { return stop_; };
        loop_mu_.AwaitWithTimeout(Condition(&stopping), options_.collect_delay);
        if (stop_) return;
      }
      wake_ = false;
    }
    Housekeep(absl::Now());
  }
}

}  // namespace shoal::server
