#include "client/src/connection.h"

#include <pthread.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/internal/create_thread_identity.h"
#include "absl/time/time.h"
#include "shared/error_kind.h"
#include "client/src/methods.h"
#include "shoal/errors.h"
#include "shoal/pipeline.h"

namespace shoal::detail {
namespace {

// Keeps each Release message far below any message size limit, whatever the
// size of the burst of drops.
constexpr size_t kMaxIdsPerRelease = 8192;

// Room left in a frame for a call's framing and the releases riding with it.
constexpr int64_t kFrameMargin = 1024;

// What a call adds to a frame beyond its method and request: its id and the
// fields' tags and lengths.
constexpr int64_t kCallFraming = 24;

// The largest frame written; frames this size take the per-message costs
// out of bulk work, and bigger ones would only add to latency.
constexpr int64_t kMaxFrameBytes = 1 << 20;

// Calls queued and not yet written past which the caller writes them itself.
constexpr int64_t kMaxQueuedBytes = 4 << 20;

// How long the flusher waits before sending queued releases: long enough for
// a call made meanwhile to carry them in its own frame and for a burst of
// drops to go out as one message, short enough not to matter to anyone.
constexpr absl::Duration kReleaseLinger = absl::Milliseconds(1);

// The start of a connection's threads, which Open waits for: each makes its
// Abseil thread identity first. A thread makes it the first time it waits
// on an absl::Mutex, under process-wide spinlocks of Abseil's (the free list
// of identities, the low-level allocator's arena); a fork() by another thread
// meanwhile leaves the lock held for ever in the child, whose threads need it
// to wait on any Mutex (seen: a forked sender whose three threads all waited
// on it, the parent having forked as its new connection's reader and flusher
// made theirs). So made before Open returns, they are made before any fork
// that follows. std's mutex, not Abseil's: waiting on it needs no identity.
class ThreadsStarted {
 public:
  // On each new thread, before it waits on any absl::Mutex.
  void Arrive() {
    absl::synchronization_internal::GetOrCreateCurrentThreadIdentity();
    std::lock_guard<std::mutex> lock(mu_);
    ++arrived_;
    cv_.notify_all();
  }
  void AwaitAll(int threads) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return arrived_ >= threads; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
};

// How long the flusher lets calls queued through async() gather before it
// writes them, unless their bytes reach kCorkBytes first or a caller waits
// for one of them (a Future writes what holds its call before it waits): a
// caller that pipelines many calls has them go out in a few large frames
// rather than one small frame for each wake-up of the flusher.
constexpr absl::Duration kCallLinger = absl::Microseconds(100);
constexpr int64_t kCorkBytes = 64 << 10;

// Why a connection inherited through fork() takes no call.
constexpr char kOrphaned[] =
    "this session belongs to the process that forked this one; a forked process uses a session "
    "of its own, which its Managers and proxies open on first use";

// Awaiting a call on an orphaned connection.
[[noreturn]] void ThrowParentsCall() {
  throw ConnectionError(
      "this call was made by the process that forked this one, before fork(): its reply goes to "
      "that process");
}

CallOutcome GoneOutcome(std::string reason, std::string kind = "ConnectionError") {
  CallOutcome outcome;
  outcome.code = absl::StatusCode::kUnavailable;
  outcome.error_kind = std::move(kind);
  outcome.error_message = std::move(reason);
  return outcome;
}

// Acknowledgements past which the flusher sends them without waiting for a
// frame to carry them.
constexpr size_t kAckBatch = 1024;

// The first and the longest pause between two tries to resume.
constexpr absl::Duration kFirstBackoff = absl::Milliseconds(20);
constexpr absl::Duration kMaxBackoff = absl::Seconds(1);

}  // namespace

void EncodedCalls::TakeFrom(EncodedCalls& other) {
  if (count() == 0) {
    Swap(other);
    other.Clear();
    return;
  }
  const size_t base = bytes_.size();
  bytes_.append(other.bytes_);
  for (size_t end : other.ends_) ends_.push_back(base + end);
  ids_.insert(ids_.end(), other.ids_.begin(), other.ids_.end());
  other.Clear();
}

void PendingCalls::Add(uint64_t call_id, Call call, bool awaited) {
  (awaited ? awaited_ : unawaited_).emplace(call_id, std::move(call));
}

void PendingCalls::AddRelease(uint64_t call_id) {
  unawaited_.emplace(call_id, Call());
  releases_.insert(call_id);
}

bool PendingCalls::Take(uint64_t call_id, Call* call) {
  for (absl::flat_hash_map<uint64_t, Call>* calls : {&awaited_, &unawaited_}) {
    auto it = calls->find(call_id);
    if (it == calls->end()) continue;
    // The room of its written bytes goes to the next call written.
    std::string& written = it->second.written;
    if (spare_.size() < kSpareStrings && written.capacity() <= kSpareBytes) {
      written.clear();
      spare_.push_back(std::move(written));
    }
    *call = std::move(it->second);
    calls->erase(it);
    if (!releases_.empty()) releases_.erase(call_id);
    return true;
  }
  return false;
}

std::vector<PendingCalls::Call> PendingCalls::TakeAll() {
  std::vector<Call> calls;
  calls.reserve(awaited_.size() + unawaited_.size());
  for (auto* from : {&awaited_, &unawaited_}) {
    for (auto& [call_id, call] : *from) calls.push_back(std::move(call));
    from->clear();
  }
  releases_.clear();
  return calls;
}

void PendingCalls::KeepWritten(uint64_t call_id, absl::string_view call) {
  for (absl::flat_hash_map<uint64_t, Call>* calls : {&awaited_, &unawaited_}) {
    auto it = calls->find(call_id);
    if (it == calls->end()) continue;
    std::string& written = it->second.written;
    if (!spare_.empty()) {
      written = std::move(spare_.back());
      spare_.pop_back();
    }
    written.assign(call.data(), call.size());
    return;
  }
}

std::vector<std::pair<uint64_t, const std::string*>> PendingCalls::Written() const {
  std::vector<std::pair<uint64_t, const std::string*>> written;
  for (const auto* calls : {&awaited_, &unawaited_}) {
    for (const auto& [call_id, call] : *calls) {
      if (!call.written.empty()) written.emplace_back(call_id, &call.written);
    }
  }
  std::sort(written.begin(), written.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return written;
}

void PendingCalls::SetAwaited(uint64_t call_id, bool awaited) {
  absl::flat_hash_map<uint64_t, Call>& from = awaited ? unawaited_ : awaited_;
  auto it = from.find(call_id);
  if (it == from.end()) return;
  (awaited ? awaited_ : unawaited_).emplace(call_id, std::move(it->second));
  from.erase(it);
}

Connection::Connection(std::unique_ptr<SessionStream> stream, int64_t max_message_bytes,
                       std::chrono::milliseconds close_timeout, std::chrono::milliseconds lease,
                       ResumeOptions resume)
    : max_message_bytes_(max_message_bytes),
      close_timeout_(close_timeout),
      heartbeat_every_(lease.count() > 0 ? HeartbeatInterval(lease) : absl::ZeroDuration()),
      last_write_ns_(absl::GetCurrentTimeNanos()),
      resume_(std::move(resume)),
      dead_path_(resume_.resumer != nullptr ? DeadPathTimeout(resume_.grace)
                                            : std::chrono::milliseconds(0)),
      stream_(std::move(stream)) {
  if (dead_path_.count() > 0) stream_->WatchPath(dead_path_);
}

std::shared_ptr<Connection> Connection::Open(std::unique_ptr<SessionStream> stream,
                                             int64_t max_message_bytes,
                                             std::chrono::milliseconds close_timeout,
                                             std::chrono::milliseconds lease,
                                             ResumeOptions resume) {
  // A process that inherited the connection through fork() never destroys
  // it: its threads are not this process's, and their std::thread objects
  // would end it if destroyed.
  std::shared_ptr<Connection> connection(
      new Connection(std::move(stream), max_message_bytes, close_timeout, lease,
                     std::move(resume)),
      [](Connection* inherited) {
        if (!inherited->orphaned()) delete inherited;
      });
  ThreadsStarted started;
  // Named before Open returns, so that top -H, a debugger and a test that
  // looks for them tell them apart from the caller's.
  connection->reader_ = std::thread([connection, &started] {
    pthread_setname_np(pthread_self(), "shoal-reader");
    started.Arrive();
    connection->ReadLoop();
  });
  connection->flusher_ = std::thread([raw = connection.get(), &started] {
    pthread_setname_np(pthread_self(), "shoal-flusher");
    started.Arrive();
    raw->FlushLoop();
  });
  started.AwaitAll(2);
  return connection;
}

Connection::~Connection() {
  // Normally a no-op: the owner closes first. Here as well so that no thread
  // outlives the object by accident.
  Close();
}

uint64_t Connection::Send(absl::string_view method, const google::protobuf::MessageLite& request,
                          KeepAlive keep_alive, CallCompletion done, Outbox* outbox) {
  SerializedRequest serialized;
  request.SerializeToString(&serialized.bytes);
  return Send(method, std::move(serialized), std::move(keep_alive), std::move(done), outbox);
}

uint64_t Connection::Send(absl::string_view method, SerializedRequest request,
                          KeepAlive keep_alive, CallCompletion done, Outbox* outbox) {
  if (orphaned()) {
    CallOutcome outcome = GoneOutcome(kOrphaned);
    done(outcome);
    return 0;
  }
  // The server ends a stream that brings it a message past its limit; refuse
  // such a call here, alone. The margin covers the call's framing and any
  // releases riding with it (sent on their own when they would not fit).
  const int64_t call_bytes = static_cast<int64_t>(request.bytes.size() + method.size());
  if (max_message_bytes_ > 0 && call_bytes + kFrameMargin > max_message_bytes_) {
    CallOutcome outcome;
    outcome.code = absl::StatusCode::kResourceExhausted;
    outcome.error_kind = "LimitError";
    outcome.error_message = absl::StrCat("the call would take ", call_bytes,
                                         " bytes, past the server's message limit of ",
                                         max_message_bytes_);
    done(outcome);
    return 0;
  }
  const bool gathered = outbox != nullptr && !outbox->stream_;
  // A call written at once is awaited: its Future may read the reply.
  const bool awaited = outbox == nullptr;
  bool write_now = awaited;
  std::string gone;
  std::string gone_kind;
  uint64_t call_id = 0;
  {
    Locked lock(this);
    if (closing_ || broken_) {
      gone = GoneReasonLocked();
      gone_kind = closing_ ? "ConnectionError" : gone_kind_;
    } else {
      call_id = next_call_id_++;
      pending_.Add(call_id, {std::move(done), std::move(keep_alive), std::string()}, awaited);
      if (!gathered) {
        // Queued calls go out in the order they were queued: by the caller
        // now, or by the flusher, or by whoever waits on one of them first.
        queued_.Add(call_id, method, request.bytes);
        queued_bytes_ += call_bytes + kCallFraming;
        // A caller that queues faster than the flusher writes writes itself.
        write_now = write_now || queued_bytes_ > kMaxQueuedBytes;
        if (!write_now) flusher_has_calls_ = true;
      }
    }
  }
  if (!gone.empty()) {
    CallOutcome outcome = GoneOutcome(std::move(gone), std::move(gone_kind));
    done(outcome);
    return 0;
  }
  if (gathered) {
    outbox->Add(call_id, method, request.bytes, call_bytes);
  } else if (write_now) {
    WriteQueued();
  }
  return call_id;
}

void Connection::Await(uint64_t call_id) {
  if (orphaned()) ThrowParentsCall();
  Locked lock(this);
  // The caller reads for the call from now on, if it did not already.
  pending_.SetAwaited(call_id, true);
  auto answered_or_free = [this, call_id]() {
    mu_.AssertReaderHeld();
    return broken_ || !reading_ || !pending_.Contains(call_id);
  };
  for (;;) {
    // Answered (its completion runs or has run on the thread that read the
    // reply; the caller's future waits for it), or the session is gone.
    if (!pending_.Contains(call_id) || broken_) return;
    // A reply being read by another thread is complete once it is out of
    // pending_ and that thread has let go of the role; FailAllPending
    // empties pending_ at the end of the stream.
    if (!reading_) {
      ReadFrameLocked();
      continue;
    }
    NudgeLocked();
    mu_.Await(Condition(&answered_or_free));
  }
}

void Connection::Disown(uint64_t call_id) {
  if (orphaned()) return;
  Locked lock(this);
  pending_.SetAwaited(call_id, false);
}

void Connection::WriteQueued() { WriteCalls(nullptr); }

void Connection::WriteCalls(EncodedCalls* more) {
  if (orphaned()) return;
  MutexLock write_lock(&write_mu_);
  EncodedCalls& calls = writing_;
  std::vector<uint64_t>& acks = writing_acks_;
  {
    Locked lock(this);
    // The queued calls change places with the writer's emptied ones, so
    // that both keep their room from one frame to the next.
    calls.Swap(queued_);
    queued_bytes_ = 0;
    flusher_has_calls_ = false;
    // Releases and acknowledgements ride along with the calls. Alone,
    // acknowledgements wait until enough of them do (AcksDue, which wakes
    // the flusher), or for the next heartbeat: a caller that waits on a
    // Future after the replies before it were read must not write a frame
    // of acknowledgements each time.
    TakeReleasesLocked(&calls);
    if (more != nullptr) calls.TakeFrom(*more);
    if (calls.count() > 0 || AcksDue()) TakeAcksLocked(&acks);
    // Each call is kept for a resume from now: written, or not if the
    // stream breaks meanwhile, it goes again on the stream that resumes
    // the session (which takes write_mu_ first).
    if (resumable()) {
      for (size_t i = 0; i < calls.count(); ++i) pending_.KeepWritten(calls.id(i), calls.call(i));
    }
  }
  if (calls.count() > 0 || !acks.empty()) {
    // A failed write means the stream is over; the reader sees its end and
    // fails these calls with the others, or writes them again once it has
    // resumed the session.
    WriteInFrames(calls, acks, /*ack_as_written=*/true, /*beat=*/false);
  }
  calls.Clear();
  acks.clear();
}

void Connection::WriteInFrames(const EncodedCalls& calls, std::vector<uint64_t>& acks,
                               bool ack_as_written, bool beat) {
  ack_as_written = ack_as_written && resumable();
  const size_t limit = static_cast<size_t>(FrameLimit());
  size_t begin = 0;
  do {
    // The calls [begin, end) go in this frame: as many as fit, one at least.
    const size_t base = calls.end_of(begin);
    size_t end = begin;
    while (end < calls.count() && (end == begin || calls.end_of(end + 1) - base <= limit)) ++end;
    const absl::string_view run =
        absl::string_view(calls.bytes()).substr(base, calls.end_of(end) - base);
    body_.clear();
    AppendAcks(acks, &body_);
    absl::string_view body = run;
    if (!acks.empty() && run.size() + body_.size() > limit) {
      // The acknowledgements would push the frame past the limit: they go
      // in a frame of their own first.
      if (!WriteFrameLocked(body_)) {
        RequeueAcks(acks);
        return;
      }
    } else if (!acks.empty() || (beat && run.empty())) {
      body_.append(run.data(), run.size());
      if (body_.empty()) AppendFlag(v1::ClientFrame::kHeartbeatFieldNumber, &body_);
      body = body_;
    }
    if (!WriteFrameLocked(body)) {
      // The stream is over: the calls go again once the session resumes
      // (they are kept), and so do the acknowledgements.
      RequeueAcks(acks);
      return;
    }
    acks.clear();
    begin = end;
    // The replies read meanwhile are acknowledged as the frames go, so that
    // a long batch does not have the server keep them all.
    if (ack_as_written && begin < calls.count()) {
      Locked lock(this);
      TakeAcksLocked(&acks);
    }
  } while (begin < calls.count());
  if (body_.capacity() > (1 << 20)) std::string().swap(body_);
}

void Connection::RequeueAcks(std::vector<uint64_t>& acks) {
  if (acks.empty()) return;
  Locked lock(this);
  acks_.insert(acks_.begin(), acks.begin(), acks.end());
  acks.clear();
}

void Connection::TakeAcksLocked(std::vector<uint64_t>* acks) {
  if (acks_.empty()) return;
  acks->insert(acks->end(), acks_.begin(), acks_.end());
  acks_.clear();
}

bool Connection::AcksDue() const { return acks_.size() >= kAckBatch; }

bool Connection::CallsMustGo() const {
  return closing_ || broken_ || !flusher_has_calls_ || queued_bytes_ >= kCorkBytes || AcksDue();
}

int64_t Connection::FrameLimit() const {
  return max_message_bytes_ > 0 ? std::min(kMaxFrameBytes, max_message_bytes_ - kFrameMargin)
                                : kMaxFrameBytes;
}

void Connection::QueueRelease(uint64_t id) {
  // The parent's reference is the parent's to give back.
  if (orphaned()) return;
  Locked lock(this);
  if (closing_ || broken_) return;
  release_queue_.push_back(id);
}

void Connection::SettleReleases() {
  if (orphaned()) return;
  // Sends every release queued before now, if another writer has not; once
  // it returns, each of them has a call id.
  WriteQueued();
  Locked lock(this);
  const uint64_t up_to = next_call_id_ - 1;
  auto answered = [this, up_to]() {
    mu_.AssertReaderHeld();
    return ReleasesAnsweredUpTo(up_to);
  };
  // The reader thread reads the releases' replies meanwhile, even while a
  // call is awaited (see ReaderThreadHasReplies).
  ++settling_;
  NudgeLocked();
  mu_.Await(Condition(&answered));
  --settling_;
}

void Connection::Close() {
  // The parent's session is the parent's to close: not even its socket is
  // shut down here, which would end it for the parent too.
  if (orphaned()) return;
  // Close may run inside a completion, on the thread that reads.
  bool reading_here = false;
  {
    Locked lock(this);
    reading_here = ReadingHereLocked();
    close_wanted_ = true;
  }
  // Calls queued and not yet written go out first, as they would have had
  // the flusher come to them; but never from the reader, which must not wait
  // on the stream's flow control.
  if (!reading_here) WriteQueued();
  {
    Locked lock(this);
    if (closing_) return;
    closing_ = true;
    // The server drops every reference of the session when it ends.
    release_queue_.clear();
  }
  if (reading_here) {
    // Close runs inside a completion on the thread that reads, which must
    // not wait on the stream's flow control: the server may be waiting for
    // it to read before it reads again. The flusher is joined and the last
    // frame written by a thread of their own, while this thread goes on
    // reading. The reader thread owns a reference to this connection, reads
    // to the end of the stream once this thread lets go of the role, and
    // finishes on its own.
    if (std::shared_ptr<Connection> self = weak_from_this().lock()) {
      std::thread([self = std::move(self)] { self->EndWriting(); }).detach();
    } else {
      EndWriting();  // being destroyed: no reply is awaited any more
    }
    if (reader_.joinable()) reader_.detach();
    return;
  }
  EndWriting();
  if (!reader_.joinable()) return;
  if (!stream_ended_.WaitForNotificationWithTimeout(absl::FromChrono(close_timeout_))) {
    stream_->Cancel();
  }
  reader_.join();
}

void Connection::EndWriting() {
  if (flusher_.joinable()) flusher_.join();
  // Ending the session explicitly, in a last frame, frees what it holds at
  // once instead of after the server's grace period for broken streams. The
  // server answers the calls written before it, cancels the parked ones, and
  // ends the stream. A stream that has ended takes no more frames.
  MutexLock lock(&write_mu_);
  if (writes_done_) return;
  writes_done_ = true;
  std::string last;
  AppendFlag(v1::ClientFrame::kCloseFieldNumber, &last);
  stream_->WriteBody(last);
  stream_->WritesDone();
}

absl::Status Connection::end_status() const {
  if (orphaned()) return absl::UnavailableError(kOrphaned);
  MutexLock lock(&mu_);
  return end_status_;
}

void Connection::ReadLoop() {
  Locked lock(this);
  for (;;) {
    while (!ReaderThreadMustRead()) {
      reader_parked_ = true;
      NudgeLocked();
      reader_cv_.Wait(&mu_);
      reader_parked_ = false;
    }
    if (broken_) return;
    ReadFrameLocked();
  }
}

bool Connection::FlusherWait(bool (Connection::*until)() const, absl::Time deadline) {
  flusher_awaits_ = until;
  bool holds = (this->*until)();
  while (!holds) {
    // The other waits on mu_ (a caller awaiting its reply, a resume) see
    // what this thread changed before it waits, as a release shows them.
    NudgeLocked();
    if (deadline == absl::InfiniteFuture()) {
      flusher_cv_.Wait(&mu_);
    } else if (flusher_cv_.WaitWithDeadline(&mu_, deadline)) {
      holds = (this->*until)();
      break;
    }
    holds = (this->*until)();
  }
  flusher_awaits_ = nullptr;
  return holds;
}

void Connection::ReadFrameLocked() {
  reading_ = true;
  reading_thread_ = std::this_thread::get_id();
  read_began_ = absl::Now();
  NudgeLocked();
  mu_.Unlock();
  if (!stream_->Read(&in_)) {
    EndOfStream();
  } else {
    // The frame's calls leave pending_ together, so that a caller waiting
    // for one of them is woken once for the frame, not once for each reply.
    std::vector<std::pair<const ReplyView*, PendingCalls::Call>>& taken = taken_;
    bool closing = false;
    {
      Locked lock(this);
      for (const ReplyView& reply : in_.replies) {
        // The server keeps each reply until it is acknowledged, that to no
        // call of ours included.
        if (resumable()) acks_.push_back(reply.call_id);
        // A reply to no call of ours: nothing to complete.
        PendingCalls::Call pending;
        if (pending_.Take(reply.call_id, &pending)) taken.emplace_back(&reply, std::move(pending));
      }
      closing = closing_;
    }
    for (auto& [reply, pending] : taken) {
      if (!pending.done) continue;
      CallOutcome outcome;
      const auto code = static_cast<absl::StatusCode>(reply->code);
      if (closing &&
          (code == absl::StatusCode::kCancelled || code == absl::StatusCode::kUnauthenticated)) {
        // Close() ended the session: the server cancelled what was parked,
        // and refuses what reached it after the session's end. To the
        // caller, the call failed because the session closed.
        outcome = GoneOutcome("session closed");
      } else {
        outcome.code = code;
        // (Most replies leave some of these empty: outcome's stay untouched.)
        if (!reply->error_kind.empty()) {
          outcome.error_kind.assign(reply->error_kind.data(), reply->error_kind.size());
        }
        if (!reply->error_message.empty()) {
          outcome.error_message.assign(reply->error_message.data(), reply->error_message.size());
        }
        if (!reply->response.empty()) {
          outcome.response.assign(reply->response.data(), reply->response.size());
        }
      }
      pending.done(outcome);
    }
    // The requests' keep-alives go only now, after the server has taken its
    // own references.
    taken.clear();
    in_.Clear();
    if (taken.capacity() > 4096) std::vector<std::pair<const ReplyView*, PendingCalls::Call>>().swap(taken);
  }
  mu_.Lock();
  reading_ = false;
  reading_thread_ = std::thread::id();
}

void Connection::EndOfStream() {
  // No write may start once Finish has begun.
  {
    MutexLock lock(&write_mu_);
    writes_done_ = true;
  }
  absl::Status status = stream_->Finish();
  {
    Locked lock(this);
    if (path_dead_) {
      // Broken off by the flusher: a path gone silent, as a failed socket.
      path_dead_ = false;
      status = absl::UnavailableError(absl::StrCat(
          "nothing came from the server for ", absl::FormatDuration(absl::FromChrono(dead_path_)),
          " after a probe: the connection is taken for dead"));
    }
  }
  if (resumable() && absl::IsUnavailable(status) && Resume(status)) return;
  {
    Locked lock(this);
    if (end_status_.ok()) end_status_ = std::move(status);
    broken_ = true;
    release_queue_.clear();
  }
  FailAllPending();
  stream_ended_.Notify();
}

bool Connection::Resume(const absl::Status& status) {
  {
    Locked lock(this);
    if (closing_ || close_wanted_) return false;
    resuming_ = true;
  }
  const bool resumed = ResumeOnNewStream(status);
  Locked lock(this);
  resuming_ = false;
  probe_sent_ = absl::InfinitePast();
  return resumed;
}

bool Connection::ResumeOnNewStream(const absl::Status& status) {
  const absl::Time broke = absl::Now();
  // A try that starts before the grace has passed may still find the
  // session; the server says so if it does not.
  const absl::Time give_up = broke + absl::FromChrono(resume_.grace);
  absl::Duration backoff = kFirstBackoff;
  std::minstd_rand random(static_cast<uint32_t>(absl::GetCurrentTimeNanos()));
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  // Writers wait while the stream is replaced.
  MutexLock write_lock(&write_mu_);
  absl::Status last = status;
  for (;;) {
    const absl::Time now = absl::Now();
    const auto deadline =
        absl::ToChronoTime(std::min(give_up, now + absl::FromChrono(close_timeout_)) +
                           absl::Milliseconds(500));
    absl::StatusOr<std::unique_ptr<SessionStream>> resumed = resume_.resumer(deadline);
    if (resumed.ok()) {
      if (dead_path_.count() > 0) (*resumed)->WatchPath(dead_path_);
      std::unique_ptr<SessionStream> old = *std::move(resumed);
      {
        Locked lock(this);
        stream_.swap(old);
      }
      writes_done_ = false;
      break;
    }
    last = resumed.status();
    const ErrorKind kind = ErrorKindOf(last);
    if (!absl::IsUnavailable(last) && !absl::IsDeadlineExceeded(last)) {
      Locked lock(this);
      // The break's reason (such as the server's "session ended: no
      // heartbeat ...") and the resume's answer.
      end_status_ = absl::Status(last.code(), absl::StrCat("session lost: ", status.message(),
                                                           "; resuming it: ", last.message()));
      gone_kind_ = std::string(ErrorKindName(kind == ErrorKind::kNone ? ErrorKind::kError : kind));
      return false;
    }
    if (absl::Now() >= give_up) {
      Locked lock(this);
      end_status_ = MakeError(
          ErrorKind::kSessionExpired,
          absl::StrCat("the session's connection broke (", status.message(),
                       ") and the server could not be reached again within its grace of ",
                       absl::FormatDuration(absl::FromChrono(resume_.grace)),
                       ", after which the session ends: ", last.message()));
      gone_kind_ = "SessionExpired";
      return false;
    }
    // Jitter, so that the clients of a server that went away do not all
    // come back at once.
    const absl::Duration pause =
        std::min(backoff * jitter(random), give_up - absl::Now());
    backoff = std::min(backoff * 2, kMaxBackoff);
    Locked lock(this);
    auto closing = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return closing_ || close_wanted_;
    };
    NudgeLocked();
    if (mu_.AwaitWithTimeout(Condition(&closing), std::max(pause, absl::ZeroDuration()))) {
      return false;
    }
  }
  // Every call written and not answered goes again, in order, with the
  // replies read so far acknowledged first. Even with nothing to send
  // again, a frame goes: the first frame tells the server the stream is
  // live.
  EncodedCalls again;
  std::vector<uint64_t> acks;
  {
    Locked lock(this);
    TakeAcksLocked(&acks);
    for (const auto& [call_id, call] : pending_.Written()) again.AddEncoded(call_id, *call);
  }
  WriteInFrames(again, acks, /*ack_as_written=*/false, /*beat=*/true);
  return true;
}

void Connection::FlushLoop() {
  // While the path is watched, the flusher looks at it a few times per
  // bound.
  const absl::Duration look_every = absl::FromChrono(dead_path_) / 4;
  for (;;) {
    bool heartbeat = false;
    bool probe = false;
    {
      Locked lock(this);
      absl::Time wake = heartbeat_every_ == absl::ZeroDuration()
                            ? absl::InfiniteFuture()
                            : LastWrite() + heartbeat_every_;
      if (dead_path_.count() > 0) wake = std::min(wake, absl::Now() + look_every);
      const bool work = FlusherWait(&Connection::FlusherHasWork, wake);
      if (closing_ || broken_) return;
      if (!work) {
        const absl::Time now = absl::Now();
        const PathCheck check = CheckPathLocked(now);
        if (check == PathCheck::kDead) continue;
        probe = check == PathCheck::kProbe;
        // Nothing to write by the time a heartbeat is due: one goes out
        // (unless a frame went out meanwhile, which WriteHeartbeat sees).
        heartbeat = !probe && heartbeat_every_ != absl::ZeroDuration() &&
                    now >= LastWrite() + heartbeat_every_;
        if (!probe && !heartbeat) continue;
      }
      if (!heartbeat && !probe && !flusher_has_calls_) {
        // Releases alone linger, so that a burst of drops goes out as one
        // message, or rides with a call made meanwhile.
        FlusherWait(&Connection::FlusherMustHurry, absl::Now() + kReleaseLinger);
        if (closing_ || broken_) return;
      } else if (!heartbeat && !probe) {
        // Calls linger a little, so that more join them in one frame.
        FlusherWait(&Connection::CallsMustGo, absl::Now() + kCallLinger);
        if (closing_ || broken_) return;
      }
    }
    if (heartbeat) {
      WriteHeartbeat();
    } else {
      WriteQueued();
    }
  }
}

Connection::PathCheck Connection::CheckPathLocked(absl::Time now) {
  if (dead_path_.count() == 0 || resuming_ || !reading_ ||
      writing_frame_.load(std::memory_order_relaxed)) {
    // Nobody waits for the server: nothing is expected from it. Or a frame
    // is being written, which a server busy reading a large one answers only
    // once it has it all: a path that died under a write is the kernel's to
    // find (WatchPath), with the data left unacknowledged.
    probe_sent_ = absl::InfinitePast();
    return PathCheck::kFine;
  }
  const std::optional<int64_t> received = stream_->LastReceivedNanos();
  if (!received.has_value()) return PathCheck::kFine;
  const absl::Time heard = std::max(absl::FromUnixNanos(*received), read_began_);
  const absl::Duration bound = absl::FromChrono(dead_path_);
  if (probe_sent_ > heard) {
    // A probe went out and nothing has come since.
    if (now - probe_sent_ < bound) return PathCheck::kFine;
    probe_sent_ = absl::InfinitePast();
    path_dead_ = true;
    stream_->Cancel();
    return PathCheck::kDead;
  }
  if (now - heard < bound / 2) return PathCheck::kFine;
  // An empty Release, which the server answers at once: any bytes that
  // arrive (its reply, or anything else) show the path works.
  const uint64_t call_id = next_call_id_++;
  pending_.AddRelease(call_id);
  queued_.Add(call_id, method::Manager::Release.path, absl::string_view());
  queued_bytes_ += kCallFraming + static_cast<int64_t>(method::Manager::Release.path.size());
  probe_sent_ = now;
  return PathCheck::kProbe;
}

void Connection::WriteHeartbeat() {
  MutexLock write_lock(&write_mu_);
  if (absl::Now() < LastWrite() + heartbeat_every_) return;
  std::vector<uint64_t> acks;
  {
    Locked lock(this);
    TakeAcksLocked(&acks);
  }
  std::string beat;
  AppendFlag(v1::ClientFrame::kHeartbeatFieldNumber, &beat);
  AppendAcks(acks, &beat);
  // A stream that has ended takes none; its reader sees the end, and the
  // acknowledgements wait for the stream that resumes the session. The next
  // heartbeat is due an interval from now either way, so that the flusher
  // does not spin on a stream that refuses them.
  if (!WriteFrameLocked(beat)) {
    RequeueAcks(acks);
    last_write_ns_.store(absl::GetCurrentTimeNanos(), std::memory_order_relaxed);
  }
}

void Connection::FailAllPending() {
  std::vector<PendingCalls::Call> failed;
  std::string reason;
  std::string kind;
  {
    Locked lock(this);
    failed = pending_.TakeAll();
    reason = GoneReasonLocked();
    kind = closing_ ? "ConnectionError" : gone_kind_;
  }
  for (PendingCalls::Call& pending : failed) {
    if (!pending.done) continue;
    CallOutcome outcome = GoneOutcome(reason, kind);
    pending.done(outcome);
  }
}

bool Connection::WriteFrameLocked(absl::string_view body) {
  if (writes_done_) return false;
  writing_frame_.store(true, std::memory_order_relaxed);
  const bool written = stream_->WriteBody(body);
  writing_frame_.store(false, std::memory_order_relaxed);
  if (!written) return false;
  last_write_ns_.store(absl::GetCurrentTimeNanos(), std::memory_order_relaxed);
  return true;
}

void Connection::TakeReleasesLocked(EncodedCalls* calls) {
  for (size_t begin = 0; begin < release_queue_.size(); begin += kMaxIdsPerRelease) {
    const size_t end = std::min(release_queue_.size(), begin + kMaxIdsPerRelease);
    v1::ReleaseRequest request;
    for (size_t i = begin; i < end; ++i) request.add_ids(release_queue_[i]);
    const uint64_t call_id = next_call_id_++;
    pending_.AddRelease(call_id);
    calls->Add(call_id, method::Manager::Release.path, request.SerializeAsString());
  }
  release_queue_.clear();
}

std::string Connection::GoneReasonLocked() const {
  if (closing_) return "session closed";
  if (gone_kind_ != "ConnectionError") return std::string(end_status_.message());
  if (end_status_.ok()) return "session lost: the server ended the session stream";
  return absl::StrCat("session lost: ", absl::StatusCodeToString(end_status_.code()), ": ",
                      end_status_.message());
}

Outbox::Outbox(std::shared_ptr<Connection> connection, std::shared_ptr<void> keep_open,
               bool stream)
    : connection_(std::move(connection)),
      keep_open_(std::move(keep_open)),
      stream_(stream),
      limit_(connection_->FrameLimit()) {}

void Outbox::Add(uint64_t call_id, absl::string_view method, absl::string_view request,
                 int64_t bytes) {
  MutexLock lock(&mu_);
  bytes += kCallFraming;
  if (frame_.count() > 0 && bytes_ + bytes > limit_) FlushLocked();
  frame_.Add(call_id, method, request);
  bytes_ += bytes;
}

void Outbox::Flush() {
  if (orphaned()) return;
  MutexLock lock(&mu_);
  FlushLocked();
}

size_t Outbox::size() const {
  if (orphaned()) return 0;
  MutexLock lock(&mu_);
  return frame_.count();
}

void Outbox::FlushLocked() {
  if (stream_) {
    connection_->WriteQueued();
    return;
  }
  if (frame_.count() == 0) return;
  connection_->WriteCalls(&frame_);
  bytes_ = 0;
}

void CallTicket::Send() {
  if (outbox_ == nullptr) return;
  outbox_->Flush();
  outbox_.reset();
}

void CallTicket::Await() {
  // A call the parent gathered or queued before fork(): its reply goes to
  // the parent (Connection::Await says so for the calls it wrote).
  if (outbox_ != nullptr && outbox_->orphaned()) ThrowParentsCall();
  Send();
  if (connection_ == nullptr) return;
  // Held until the reply is in, so that the connection outlives a Close()
  // run by a completion on this thread.
  const std::shared_ptr<Connection> connection = std::move(connection_);
  connection->Await(call_id_);
}

void CallTicket::Answered() {
  if ((outbox_ != nullptr && outbox_->orphaned()) ||
      (connection_ != nullptr && connection_->orphaned())) {
    ThrowParentsCall();
  }
  outbox_.reset();
  connection_.reset();
}

void CallTicket::Disown() {
  if (connection_ == nullptr) return;
  connection_->Disown(call_id_);
  connection_.reset();
}

}  // namespace shoal::detail
