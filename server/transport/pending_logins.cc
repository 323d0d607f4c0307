#include "server/transport/pending_logins.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/transport/framed_connection.h"
#include "shared/error_kind.h"

namespace shoal::server {

PendingLogins::PendingLogins(Timers& timers, absl::Duration timeout, size_t max_pending)
    : timers_(timers), timeout_(timeout), max_pending_(std::max<size_t>(1, max_pending)) {}

PendingLogins::~PendingLogins() {
  std::vector<Timers::TimerId> deadlines;
  {
    MutexLock lock(&mu_);
    for (auto& [seq, waiting] : waiting_) deadlines.push_back(waiting.deadline);
    waiting_.clear();
    seq_of_.clear();
  }
  // Without mu_: Cancel waits for a deadline that is running, which takes it.
  for (Timers::TimerId deadline : deadlines) timers_.Cancel(deadline);
}

void PendingLogins::Add(const std::shared_ptr<FramedConnection>& connection) {
  connection->AwaitLogin(this);
  std::shared_ptr<FramedConnection> oldest;
  Timers::TimerId oldest_deadline = 0;
  {
    MutexLock lock(&mu_);
    if (waiting_.size() >= max_pending_) {
      auto it = waiting_.begin();
      oldest = it->second.connection.lock();
      oldest_deadline = it->second.deadline;
      seq_of_.erase(it->second.raw);
      waiting_.erase(it);
    }
    const uint64_t seq = next_seq_++;
    // Scheduled under mu_, so that the deadline is stored before it can run
    // (it takes mu_); the timer thread runs it without the queue's mutex.
    const Timers::TimerId deadline =
        timers_.Schedule(timers_.Now() + timeout_, [this, seq] { TimedOut(seq); });
    waiting_.emplace(seq, Waiting{connection.get(), connection, deadline});
    seq_of_.emplace(connection.get(), seq);
  }
  if (oldest_deadline != 0) timers_.Cancel(oldest_deadline);
  if (oldest != nullptr) {
    oldest->RefuseLogin(error::LimitError(absl::StrCat(
        "too many connections waiting to log in (at most ", max_pending_,
        ", --max-pending-logins); the oldest is closed")));
  }
}

void PendingLogins::Remove(FramedConnection* connection) {
  Timers::TimerId deadline = 0;
  {
    MutexLock lock(&mu_);
    auto it = seq_of_.find(connection);
    if (it == seq_of_.end()) return;
    auto waiting = waiting_.find(it->second);
    deadline = waiting->second.deadline;
    waiting_.erase(waiting);
    seq_of_.erase(it);
  }
  timers_.Cancel(deadline);
}

size_t PendingLogins::size() const {
  MutexLock lock(&mu_);
  return waiting_.size();
}

void PendingLogins::TimedOut(uint64_t seq) {
  std::shared_ptr<FramedConnection> connection;
  {
    MutexLock lock(&mu_);
    auto it = waiting_.find(seq);
    if (it == waiting_.end()) return;  // logged in or gone meanwhile
    connection = it->second.connection.lock();
    seq_of_.erase(it->second.raw);
    waiting_.erase(it);
  }
  if (connection == nullptr) return;
  connection->RefuseLogin(MakeError(
      ErrorKind::kTimeoutError,
      absl::StrCat("no login within ", absl::FormatDuration(timeout_),
                   " (--login-timeout): a connection's first frame must carry its session "
                   "token, or its first two the handshake's challenge and answer")));
}

}  // namespace shoal::server
