#include "server/core/call_ledger.h"

#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

// What a kept reply costs beyond its response.
constexpr size_t kKeptOverhead = 64;

}  // namespace

uint64_t CallLedger::Attach(ReplySink* sink) {
  MutexLock lock(&mu_);
  const uint64_t stream = next_stream_++;
  streams_[stream] = sink;
  return stream;
}

CallLedger::Cancels CallLedger::Detach(uint64_t stream) {
  MutexLock lock(&mu_);
  streams_.erase(stream);
  Cancels cancels;
  if (keeps_replies_ && !overflowed_) return cancels;
  for (auto& [id, call] : running_) {
    if (call.stream == stream && call.cancel) cancels.push_back(std::move(call.cancel));
  }
  return cancels;
}

CallLedger::Arrival CallLedger::Arrive(uint64_t call_id, uint64_t stream, absl::Status* status,
                                       std::string* response) {
  MutexLock lock(&mu_);
  return ArriveLocked(call_id, stream, status, response);
}

void CallLedger::ArriveAll(absl::Span<const uint64_t> call_ids, uint64_t stream,
                           Arrivals* arrivals, std::vector<Answer>* answers) {
  arrivals->clear();
  arrivals->reserve(call_ids.size());
  answers->clear();
  MutexLock lock(&mu_);
  for (uint64_t call_id : call_ids) {
    absl::Status status;
    std::string response;
    arrivals->push_back(ArriveLocked(call_id, stream, &status, &response));
    if (arrivals->back() == Arrival::kAnswered) {
      answers->push_back(Answer{std::move(status), std::move(response)});
    }
  }
}

CallLedger::Arrival CallLedger::ArriveLocked(uint64_t call_id, uint64_t stream,
                                             absl::Status* status, std::string* response) {
  if (auto kept = kept_.find(call_id); kept != kept_.end()) {
    *status = kept->second.status;
    *response = kept->second.response;
    return Arrival::kAnswered;
  }
  auto [it, added] = running_.try_emplace(call_id);
  if (added) {
    it->second.stream = stream;
    return Arrival::kNew;
  }
  if (it->second.stream == stream || !keeps_replies_) return Arrival::kDuplicate;
  it->second.stream = stream;
  return Arrival::kInFlight;
}

bool CallLedger::Park(uint64_t call_id, absl::AnyInvocable<void()>& cancel) {
  MutexLock lock(&mu_);
  auto it = running_.find(call_id);
  if (it == running_.end()) return false;
  if (!streams_.contains(it->second.stream) && (!keeps_replies_ || overflowed_)) return false;
  it->second.cancel = std::move(cancel);
  return true;
}

absl::AnyInvocable<void()> CallLedger::TakeCancel(uint64_t call_id) {
  MutexLock lock(&mu_);
  auto it = running_.find(call_id);
  if (it == running_.end()) return nullptr;
  return std::move(it->second.cancel);
}

CallLedger::Cancels CallLedger::TakeCancelsOf(uint64_t stream) {
  MutexLock lock(&mu_);
  Cancels cancels;
  for (auto& [id, call] : running_) {
    if (call.stream == stream && call.cancel) cancels.push_back(std::move(call.cancel));
  }
  return cancels;
}

void CallLedger::Complete(uint64_t call_id, const absl::Status& status, std::string response) {
  Completion one{call_id, status, std::move(response)};
  CompleteAll(absl::MakeSpan(&one, 1));
}

void CallLedger::CompleteAll(absl::Span<Completion> done) {
  Cancels dropped;  // Destroyed after mu_ is released.
  absl::InlinedVector<bool, 8> found(done.size(), false);
  MutexLock lock(&mu_);
  // Consecutive replies for the same stream go to it together.
  ReplySink* to = nullptr;
  absl::InlinedVector<ReplySink::Delivery, 8> replies;
  replies.reserve(done.size());
  // replies[first..] are for `to`. (Not cleared between streams: clear()
  // would free what was reserved.)
  size_t first = 0;
  const auto deliver = [&] {
    if (replies.size() > first) to->DeliverAll(absl::MakeConstSpan(replies).subspan(first));
    first = replies.size();
  };
  for (size_t i = 0; i < done.size(); ++i) {
    Completion& call = done[i];
    auto it = running_.find(call.call_id);
    if (it == running_.end()) continue;
    found[i] = true;
    const uint64_t stream = it->second.stream;
    if (it->second.cancel) dropped.push_back(std::move(it->second.cancel));
    running_.erase(it);
    auto sink = streams_.find(stream);
    if (sink == streams_.end()) continue;
    if (sink->second != to) {
      deliver();
      to = sink->second;
    }
    replies.push_back(ReplySink::Delivery{call.call_id, &call.status, &call.response});
  }
  deliver();
  for (size_t i = 0; i < done.size(); ++i) {
    if (found[i]) KeepLocked(done[i].call_id, done[i].status, std::move(done[i].response));
  }
}

void CallLedger::KeepLocked(uint64_t call_id, const absl::Status& status, std::string response) {
  if (!keeps_replies_ || overflowed_ || ended_) return;
  kept_bytes_ += response.size() + status.message().size() + kKeptOverhead;
  kept_.insert_or_assign(call_id, Kept{status, std::move(response)});
  if (kept_.size() <= limits_.max_replies && kept_bytes_ <= limits_.max_bytes) return;
  // A client that never acknowledges would have the server keep every
  // reply for the session's life: its streams end instead, saying why, and
  // the session can no longer be resumed with its replies.
  const absl::Status why = MakeError(
      ErrorKind::kLimitError,
      absl::StrCat(kept_.size(), " replies (", kept_bytes_,
                   " bytes) wait for the client's acknowledgement (ClientFrame.acks); the server "
                   "keeps at most ",
                   limits_.max_replies, " replies or ", limits_.max_bytes, " bytes"));
  overflowed_ = true;
  kept_.clear();
  kept_bytes_ = 0;
  for (auto& [number, sink] : streams_) sink->Overflowed(why);
}

void CallLedger::Ack(absl::Span<const uint64_t> call_ids) {
  MutexLock lock(&mu_);
  for (uint64_t call_id : call_ids) {
    auto it = kept_.find(call_id);
    if (it == kept_.end()) continue;
    kept_bytes_ -= it->second.response.size() + it->second.status.message().size() + kKeptOverhead;
    kept_.erase(it);
  }
}

void CallLedger::End() {
  MutexLock lock(&mu_);
  ended_ = true;
  ended_flag_.store(true, std::memory_order_release);
  kept_.clear();
  kept_bytes_ = 0;
}

size_t CallLedger::kept() const {
  MutexLock lock(&mu_);
  return kept_.size();
}

}  // namespace shoal::server
