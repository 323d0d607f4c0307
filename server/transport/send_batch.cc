#include "server/transport/send_batch.h"

#include <liburing.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace shoal::server {

struct SendBatch::Ring {
  io_uring ring;
};

namespace {

// Makes ring, for kMaxSends sends at a time, used by the thread that makes
// it only (which lets the kernel skip some locking); false when the kernel
// has no io_uring or forbids it.
bool MakeRing(io_uring* ring) {
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN;
  if (io_uring_queue_init_params(SendBatch::kMaxSends, ring, &params) == 0) return true;
  // Kernels before 6.0 lack the first flag, before 5.19 both.
  params = io_uring_params{};
  return io_uring_queue_init_params(SendBatch::kMaxSends, ring, &params) == 0;
}

}  // namespace

SendBatch::SendBatch(const EventLoop& loop, bool enabled) : loop_(loop), enabled_(enabled) {}

SendBatch::~SendBatch() { DropRing(); }

void SendBatch::DropRing() {
  if (ring_ != nullptr) io_uring_queue_exit(&ring_->ring);
  ring_.reset();
  try_ring_ = false;
}

void SendBatch::Drop(Sender* sender) {
  auto it = std::find(held_.begin(), held_.end(), sender);
  if (it != held_.end()) held_.erase(it);
}

void SendBatch::Flush() {
  if (held_.empty()) return;
  // Senders added while sending (none are: a send makes no replies) wait
  // for the next turn, not for this loop.
  flushing_.swap(held_);
  // Locks are taken in address order (SendTogether takes several).
  std::sort(flushing_.begin(), flushing_.end(), std::less<>());
  size_t at = 0;
  if (flushing_.size() > 1) {
    // As few submissions as kMaxSends allows, of even sizes (17 senders go
    // as 9 and 8, not as 16 and one left to send alone).
    const size_t submissions = (flushing_.size() + kMaxSends - 1) / kMaxSends;
    const size_t each = (flushing_.size() + submissions - 1) / submissions;
    while (at < flushing_.size()) {
      const size_t count = std::min(each, flushing_.size() - at);
      if (count < 2 || !SendTogether(flushing_.data() + at, count)) break;
      at += count;
    }
  }
  for (; at < flushing_.size(); ++at) {
    Sender* sender = flushing_[at];
    MutexLock lock(&sender->send_mu());
    sender->SentLocked(0);
  }
  flushing_.clear();
}

bool SendBatch::SendTogether(Sender* const* senders, size_t count) {
  if (ring_ == nullptr && try_ring_) {
    try_ring_ = false;
    auto ring = std::make_unique<Ring>();
    if (MakeRing(&ring->ring)) ring_ = std::move(ring);
  }
  if (ring_ == nullptr) return false;
  io_uring* ring = &ring_->ring;
  for (size_t i = 0; i < count; ++i) senders[i]->send_mu().Lock();
  // The bytes stay where they are, under their locks, until the kernel has
  // taken them: each send completes (or fails with EAGAIN) within the
  // submission, MSG_DONTWAIT seeing to it.
  unsigned queued = 0;
  for (size_t i = 0; i < count; ++i) {
    int fd = -1;
    const absl::string_view bytes = senders[i]->HeldLocked(&fd);
    if (bytes.empty()) continue;
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    // Never short: the ring has kMaxSends entries, all free between calls.
    if (sqe == nullptr) break;
    io_uring_prep_send(sqe, fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    io_uring_sqe_set_data64(sqe, i);
    ++queued;
  }
  // Every send completes within the submission (MSG_DONTWAIT: a full socket
  // fails it with EAGAIN rather than leaving it to wait), but the locks are
  // let go only once each has completed: until then the kernel may still
  // read the bytes they guard.
  size_t sent[kMaxSends] = {};
  unsigned completed = 0;
  bool refused = false;
  if (queued > 0) ++submissions_;
  while (completed < queued) {
    io_uring_cqe* cqe = nullptr;
    if (io_uring_peek_cqe(ring, &cqe) == 0) {
      const uint64_t i = io_uring_cqe_get_data64(cqe);
      if (i < count && cqe->res > 0) sent[i] = static_cast<size_t>(cqe->res);
      // A kernel that does not know the operation.
      if (cqe->res == -EINVAL || cqe->res == -EOPNOTSUPP) refused = true;
      io_uring_cqe_seen(ring, cqe);
      ++completed;
      continue;
    }
    // Submits what the kernel has not taken yet, and waits for a completion.
    const int result = io_uring_submit_and_wait(ring, 1);
    if (result >= 0 || result == -EINTR || result == -EAGAIN || result == -EBUSY) continue;
    if (completed == 0 && io_uring_sq_ready(ring) == queued) {
      // Refused before the kernel took any send (a sandbox that allows
      // making a ring but not using it): nothing of the bytes is in its
      // hands. The ring goes, with the sends it holds.
      refused = true;
      break;
    }
    // Sends taken by the kernel may still read bytes that the locks given
    // back would let change.
    std::fprintf(stderr, "shoal-server: io_uring failed with sends in flight: %s\n",
                 std::strerror(-result));
    std::abort();
  }
  if (refused) DropRing();
  // A send that failed, or took part of its bytes, leaves the rest to its
  // sender, which sends it with send(2) or waits for the socket to drain.
  for (size_t i = 0; i < count; ++i) {
    senders[i]->SentLocked(sent[i]);
    senders[i]->send_mu().Unlock();
  }
  return true;
}

}  // namespace shoal::server
