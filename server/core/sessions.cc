#include "server/core/sessions.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "shared/error_kind.h"
#include "shared/hmac.h"

namespace shoal::server {

Sessions::Sessions(absl::Duration lease, absl::Duration stream_grace)
    : lease_(lease), stream_grace_(stream_grace) {}

std::pair<SessionId, std::string> Sessions::Open(std::string client_name, std::string peer,
                                                 absl::Time now) {
  std::string token = absl::BytesToHexString(RandomBytes(32));
  MutexLock lock(&mu_);
  const SessionId id = next_id_++;
  State& state = sessions_[id];
  state.info.id = id;
  state.info.client_name = std::move(client_name);
  state.info.peer = std::move(peer);
  state.info.opened = now;
  state.info.deadline = now + lease_;
  state.token = token;
  by_token_[token] = id;
  return {id, token};
}

absl::StatusOr<SessionId> Sessions::Authenticate(const std::string& token, absl::Time now) {
  MutexLock lock(&mu_);
  auto it = by_token_.find(token);
  if (it == by_token_.end()) {
    return MakeError(ErrorKind::kAuthenticationError, "unknown or ended session token");
  }
  State& state = sessions_.at(it->second);
  if (state.info.streams == 0 && state.info.calls == 0) {
    state.info.deadline = std::max(state.info.deadline, now + lease_);
  }
  return it->second;
}

bool Sessions::AttachStream(SessionId id) {
  MutexLock lock(&mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return false;
  ++it->second.info.streams;
  it->second.info.deadline = absl::InfiniteFuture();
  return true;
}

void Sessions::DetachStream(SessionId id, absl::Time now) {
  MutexLock lock(&mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  SessionInfo& info = it->second.info;
  if (--info.streams == 0 && info.calls == 0) info.deadline = now + stream_grace_;
}

bool Sessions::BeginCall(SessionId id) {
  MutexLock lock(&mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return false;
  ++it->second.info.calls;
  it->second.info.deadline = absl::InfiniteFuture();
  return true;
}

void Sessions::EndCall(SessionId id, absl::Time now) {
  MutexLock lock(&mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  SessionInfo& info = it->second.info;
  if (--info.calls == 0 && info.streams == 0) info.deadline = now + lease_;
}

bool Sessions::Close(SessionId id) {
  MutexLock lock(&mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return false;
  by_token_.erase(it->second.token);
  sessions_.erase(it);
  return true;
}

std::vector<SessionId> Sessions::Expire(absl::Time now) {
  std::vector<SessionId> ended;
  MutexLock lock(&mu_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second.info.deadline <= now) {
      ended.push_back(it->first);
      by_token_.erase(it->second.token);
      sessions_.erase(it++);
    } else {
      ++it;
    }
  }
  return ended;
}

bool Sessions::Alive(SessionId id) const {
  ReaderMutexLock lock(&mu_);
  return sessions_.contains(id);
}

std::vector<SessionInfo> Sessions::List() const {
  ReaderMutexLock lock(&mu_);
  std::vector<SessionInfo> out;
  for (const auto& [id, state] : sessions_) out.push_back(state.info);
  return out;
}

}  // namespace shoal::server
