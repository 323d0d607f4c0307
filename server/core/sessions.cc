#include "server/core/sessions.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"
#include "shared/hmac.h"

namespace shoal::server {

StreamLink::StreamLink(absl::Time now, EndFn end)
    : heard_ns_(absl::ToUnixNanos(now)), end_(std::move(end)) {}

void StreamLink::End(const absl::Status& status) {
  // Held while end runs, so that Detach waits for it: the stream it ends
  // is not destroyed under it.
  MutexLock lock(&mu_);
  EndFn end = std::move(end_);
  end_ = nullptr;
  if (end) end(status);
}

void StreamLink::Detach() {
  MutexLock lock(&mu_);
  end_ = nullptr;
}

Sessions::Sessions(absl::Duration lease, absl::Duration stream_grace)
    : lease_(lease), stream_grace_(stream_grace) {}

std::pair<SessionId, std::string> Sessions::Open(std::string client_name, std::string peer,
                                                 absl::Time now, std::string* resume_secret) {
  std::string token = absl::BytesToHexString(RandomBytes(32));
  std::string secret;
  if (resume_secret != nullptr) {
    secret = absl::BytesToHexString(RandomBytes(32));
    *resume_secret = secret;
  }
  MutexLock lock(&mu_);
  const SessionId id = next_id_++;
  State& state = sessions_[id];
  state.info.id = id;
  state.info.client_name = std::move(client_name);
  state.info.peer = std::move(peer);
  state.info.opened = now;
  state.info.deadline = now + lease_;
  state.heard = now;
  state.token = token;
  state.secret = std::move(secret);
  state.ledger = std::make_shared<CallLedger>(!state.secret.empty(), CallLedger::Limits());
  by_token_[token] = id;
  return {id, token};
}

absl::StatusOr<std::string> Sessions::FindForResume(
    SessionId id, const std::string& secret, absl::Time now,
    std::vector<std::shared_ptr<StreamLink>>* superseded) {
  MutexLock lock(&mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) {
    auto ended = ended_.find(id);
    if (id == 0 || id >= next_id_) {
      return MakeError(ErrorKind::kAuthenticationError,
                       absl::StrCat("no session ", id, " was ever opened on this server"));
    }
    return MakeError(ErrorKind::kSessionExpired,
                     absl::StrCat("session ", id, " has ended",
                                  ended == ended_.end() ? "" : ": ",
                                  ended == ended_.end() ? "" : ended->second));
  }
  State& state = it->second;
  if (state.secret.empty() || !ConstantTimeEquals(state.secret, secret)) {
    return MakeError(ErrorKind::kAuthenticationError,
                     absl::StrCat("wrong secret to resume session ", id));
  }
  state.heard = std::max(state.heard, now);
  if (state.info.streams == 0 && state.info.calls == 0) {
    state.info.deadline = std::max(state.info.deadline, now + lease_);
  }
  // A client resumes because its connection is dead to it, even where the
  // server has not noticed yet (a path that went silent, with no reset):
  // the streams still attached are ended, so that nothing that trickles in
  // on them later is run, and each call's reply goes to the new stream.
  *superseded = state.streams;
  return state.token;
}

absl::StatusOr<std::string> Sessions::Resume(SessionId id, const std::string& secret,
                                             absl::Time now) {
  std::vector<std::shared_ptr<StreamLink>> superseded;
  absl::StatusOr<std::string> token = FindForResume(id, secret, now, &superseded);
  // Outside the mutex: ending a stream takes the stream's own locks.
  for (const std::shared_ptr<StreamLink>& link : superseded) {
    link->End(MakeError(ErrorKind::kConnectionError,
                        absl::StrCat("session ", id, " was resumed on another connection")));
  }
  return token;
}

std::shared_ptr<CallLedger> Sessions::Ledger(SessionId id) const {
  ReaderMutexLock lock(&mu_);
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second.ledger;
}

void Sessions::RememberEndLocked(SessionId id, std::string why) {
  ended_[id] = std::move(why);
  ended_order_.push_back(id);
  if (ended_order_.size() > kRememberedEnds) {
    ended_.erase(ended_order_.front());
    ended_order_.pop_front();
  }
}

absl::StatusOr<SessionId> Sessions::Authenticate(const std::string& token, absl::Time now) {
  MutexLock lock(&mu_);
  auto it = by_token_.find(token);
  if (it == by_token_.end()) {
    return MakeError(ErrorKind::kAuthenticationError, "unknown or ended session token");
  }
  State& state = sessions_.at(it->second);
  state.heard = std::max(state.heard, now);
  if (state.info.streams == 0 && state.info.calls == 0) {
    state.info.deadline = std::max(state.info.deadline, now + lease_);
  }
  return it->second;
}

bool Sessions::AttachStream(SessionId id, std::shared_ptr<StreamLink> link) {
  MutexLock lock(&mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return false;
  State& state = it->second;
  state.streams.push_back(std::move(link));
  state.detached = false;
  state.info.streams = static_cast<int>(state.streams.size());
  state.info.deadline = absl::InfiniteFuture();
  return true;
}

void Sessions::DetachStream(SessionId id, const StreamLink* link, absl::Time now) {
  MutexLock lock(&mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  State& state = it->second;
  auto at = std::find_if(state.streams.begin(), state.streams.end(),
                         [link](const auto& attached) { return attached.get() == link; });
  if (at == state.streams.end()) return;
  state.streams.erase(at);
  SessionInfo& info = state.info;
  info.streams = static_cast<int>(state.streams.size());
  if (info.streams == 0 && info.calls == 0) {
    info.deadline = now + stream_grace_;
    state.detached = true;
  }
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
  it->second.ledger->End();
  sessions_.erase(it);
  RememberEndLocked(id, "its client closed it");
  return true;
}

absl::Time Sessions::DeadlineLocked(const State& state) const {
  if (state.streams.empty()) return state.info.deadline;
  absl::Time heard = state.heard;
  for (const std::shared_ptr<StreamLink>& link : state.streams) {
    heard = std::max(heard, link->heard());
  }
  return heard + lease_;
}

std::vector<ExpiredSession> Sessions::Expire(absl::Time now) {
  std::vector<ExpiredSession> ended;
  MutexLock lock(&mu_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (DeadlineLocked(it->second) <= now) {
      const State& state = it->second;
      std::string why;
      if (!state.streams.empty()) {
        why = absl::StrCat("no heartbeat from its client for its lease of ",
                           absl::FormatDuration(lease_));
      } else if (state.detached) {
        why = absl::StrCat("its connection broke and none came back within the grace of ",
                           absl::FormatDuration(stream_grace_));
      } else {
        why = absl::StrCat("no call for its lease of ", absl::FormatDuration(lease_));
      }
      RememberEndLocked(it->first, std::move(why));
      state.ledger->End();
      ended.push_back({it->first, std::move(it->second.streams)});
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
  for (const auto& [id, state] : sessions_) {
    out.push_back(state.info);
    out.back().deadline = DeadlineLocked(state);
  }
  return out;
}

}  // namespace shoal::server
