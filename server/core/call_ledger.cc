#include "server/core/call_ledger.h"

#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"

namespace shoal::server {

uint64_t CallLedger::Attach(ReplySink* sink) {
  MutexLock lock(&mu_);
  const uint64_t stream = next_stream_++;
  streams_[stream] = sink;
  return stream;
}

CallLedger::Cancels CallLedger::Detach(uint64_t stream) {
  MutexLock lock(&mu_);
  streams_.erase(stream);
  if (keeps_replies_ && !overflowed_) return Cancels();
  return TakeCancelsOfLocked(stream);
}

CallLedger::Arrival CallLedger::Arrive(uint64_t call_id, uint64_t stream, absl::Status* status,
                                       std::string* response) {
  MutexLock lock(&mu_);
  return ArriveLocked(call_id, stream, status, response);
}

void CallLedger::ArriveAll(absl::Span<const uint64_t> acks, absl::Span<const uint64_t> call_ids,
                           uint64_t stream, Arrivals* arrivals, std::vector<Answer>* answers) {
  arrivals->clear();
  arrivals->reserve(call_ids.size());
  answers->clear();
  MutexLock lock(&mu_);
  AckLocked(acks);
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
  auto [it, added] = calls_.try_emplace(call_id);
  Call& call = it->second;
  if (added) {
    call.stream = stream;
    return Arrival::kNew;
  }
  if (call.answered) {
    *status = call.status;
    *response = call.response;
    return Arrival::kAnswered;
  }
  if (call.stream == stream || !keeps_replies_) return Arrival::kDuplicate;
  auto moved_from = streams_.find(call.stream);
  if (moved_from != streams_.end()) moved_from->second->Moved(call_id);
  call.stream = stream;
  return Arrival::kInFlight;
}

CallLedger::Call* CallLedger::RunningLocked(uint64_t call_id) {
  auto it = calls_.find(call_id);
  if (it == calls_.end() || it->second.answered) return nullptr;
  return &it->second;
}

absl::AnyInvocable<void()> CallLedger::UnparkLocked(uint64_t call_id, Call& call) {
  call.parked = false;
  auto node = parked_.extract(call_id);
  return node.empty() ? nullptr : std::move(node.mapped());
}

bool CallLedger::Park(uint64_t call_id, absl::AnyInvocable<void()>& cancel) {
  Cancels replaced;  // Destroyed after mu_ is released.
  MutexLock lock(&mu_);
  Call* call = RunningLocked(call_id);
  if (call == nullptr) return false;
  if (!streams_.contains(call->stream) && (!keeps_replies_ || overflowed_)) return false;
  absl::AnyInvocable<void()>& slot = parked_[call_id];
  if (slot) replaced.push_back(std::move(slot));
  slot = std::move(cancel);
  call->parked = true;
  return true;
}

absl::AnyInvocable<void()> CallLedger::TakeCancel(uint64_t call_id) {
  MutexLock lock(&mu_);
  Call* call = RunningLocked(call_id);
  if (call == nullptr || !call->parked) return nullptr;
  return UnparkLocked(call_id, *call);
}

CallLedger::Cancels CallLedger::TakeCancelsOf(uint64_t stream) {
  MutexLock lock(&mu_);
  return TakeCancelsOfLocked(stream);
}

CallLedger::Cancels CallLedger::TakeCancelsOfLocked(uint64_t stream) {
  Cancels cancels;
  absl::InlinedVector<uint64_t, 8> unparked;
  for (auto& [id, cancel] : parked_) {
    auto call = calls_.find(id);
    if (call == calls_.end() || call->second.stream != stream) continue;
    call->second.parked = false;
    cancels.push_back(std::move(cancel));
    unparked.push_back(id);
  }
  for (uint64_t id : unparked) parked_.erase(id);
  return cancels;
}

void CallLedger::Complete(uint64_t call_id, const absl::Status& status, std::string response) {
  Completion one{call_id, status, std::move(response)};
  CompleteAll(absl::MakeSpan(&one, 1));
}

void CallLedger::CompleteAll(absl::Span<Completion> done) {
  Cancels dropped;  // Destroyed after mu_ is released.
  using Entry = absl::flat_hash_map<uint64_t, Call>::iterator;
  // The entry of each call that was running (end() for the others). They
  // stay valid until used: nothing is added to calls_ meanwhile, and erasing
  // from a flat_hash_map (KeepLocked's erase and ForgetKeptLocked's
  // erase_if, which spares the calls completing) moves no other entry.
  // A call id twice in `done` is completed once.
  absl::InlinedVector<Entry, 8> entries;
  entries.reserve(done.size());
  MutexLock lock(&mu_);
  // Consecutive replies for the same stream go to it together.
  ReplySink* to = nullptr;
  // The stream of the call before, and its sink (null when detached): a
  // frame's calls mostly came on one stream.
  uint64_t last_stream = 0;
  ReplySink* last_sink = nullptr;
  absl::InlinedVector<ReplySink::Delivery, 8> replies;
  replies.reserve(done.size());
  // replies[first..] are for `to`. (Not cleared between streams: clear()
  // would free what was reserved.)
  size_t first = 0;
  const auto deliver = [&] {
    if (replies.size() > first) to->DeliverAll(absl::MakeConstSpan(replies).subspan(first));
    first = replies.size();
  };
  for (Completion& completion : done) {
    auto it = calls_.find(completion.call_id);
    if (it == calls_.end() || it->second.answered || it->second.completing) {
      entries.push_back(calls_.end());
      continue;
    }
    entries.push_back(it);
    Call& call = it->second;
    call.completing = true;
    if (call.parked) dropped.push_back(UnparkLocked(completion.call_id, call));
    if (call.stream != last_stream) {
      auto sink = streams_.find(call.stream);
      last_stream = call.stream;
      last_sink = sink == streams_.end() ? nullptr : sink->second;
    }
    if (last_sink == nullptr) continue;
    if (last_sink != to) {
      deliver();
      to = last_sink;
    }
    replies.push_back(ReplySink::Delivery{completion.call_id, &completion.status,
                                          &completion.response});
  }
  deliver();
  for (size_t i = 0; i < done.size(); ++i) {
    if (entries[i] != calls_.end()) {
      KeepLocked(entries[i], done[i].status, std::move(done[i].response));
    }
  }
  if (shrink_) {
    // The entries above are used: the table may move now.
    calls_.rehash(0);
    shrink_ = false;
  }
}

void CallLedger::KeepLocked(absl::flat_hash_map<uint64_t, Call>::iterator entry,
                            const absl::Status& status, std::string response) {
  if (!keeps_replies_ || overflowed_ || ended_) {
    calls_.erase(entry);
    return;
  }
  Call& call = entry->second;
  call.completing = false;
  call.answered = true;
  call.status = status;
  call.response = std::move(response);
  ++kept_;
  kept_bytes_ += call.response.size() + call.status.message().size() + kKeptOverhead;
  if (kept_ <= limits_.max_replies && kept_bytes_ <= limits_.max_bytes) return;
  // A client that never acknowledges would have the server keep every
  // reply for the session's life: its streams end instead, saying why, and
  // the session can no longer be resumed with its replies.
  const absl::Status why = MakeError(
      ErrorKind::kLimitError,
      absl::StrCat(kept_, " replies (", kept_bytes_,
                   " bytes) wait for the client's acknowledgement (ClientFrame.acks); the server "
                   "keeps at most ",
                   limits_.max_replies, " replies or ", limits_.max_bytes, " bytes"));
  overflowed_ = true;
  ForgetKeptLocked();
  for (auto& [number, sink] : streams_) sink->Overflowed(why);
}

void CallLedger::ForgetKeptLocked() {
  absl::erase_if(calls_, [](const auto& entry) { return entry.second.answered; });
  kept_ = 0;
  kept_bytes_ = 0;
  // The table keeps its size (up to the limit's number of replies) until
  // rehashed; not here, where CompleteAll may still hold entries.
  shrink_ = true;
}

void CallLedger::Ack(absl::Span<const uint64_t> call_ids) {
  MutexLock lock(&mu_);
  AckLocked(call_ids);
}

void CallLedger::AckLocked(absl::Span<const uint64_t> call_ids) {
  for (uint64_t call_id : call_ids) {
    auto it = calls_.find(call_id);
    if (it == calls_.end() || !it->second.answered) continue;
    --kept_;
    kept_bytes_ -=
        it->second.response.size() + it->second.status.message().size() + kKeptOverhead;
    calls_.erase(it);
  }
}

void CallLedger::End() {
  MutexLock lock(&mu_);
  ended_ = true;
  ended_flag_.store(true, std::memory_order_release);
  ForgetKeptLocked();
  calls_.rehash(0);
  shrink_ = false;
}

size_t CallLedger::kept() const {
  MutexLock lock(&mu_);
  return kept_;
}

}  // namespace shoal::server
