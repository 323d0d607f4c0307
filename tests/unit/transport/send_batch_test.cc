// A loop's batch of sends: what each connection held reaches its peer, in
// one io_uring submission where the kernel allows it; a full or broken socket
// costs its own connection only; a connection dropped is not sent for.
#include "server/transport/send_batch.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <liburing.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"

namespace shoal::server {
namespace {

// Whether this process may use io_uring at all (a kernel without it, or a
// sandbox that forbids it, leaves the batch to send one by one).
bool IoUringAllowed() {
  io_uring ring;
  if (io_uring_queue_init(2, &ring, 0) != 0) return false;
  io_uring_queue_exit(&ring);
  return true;
}

// One end of a socket pair that a batch sends on, holding bytes the way a
// connection does. It sends nothing itself: what the batch took is reported
// in sent(), and the rest stays held.
class PairSender final : public SendBatch::Sender {
 public:
  PairSender() {
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_), 0);
    EXPECT_EQ(fcntl(fds_[0], F_SETFL, O_NONBLOCK), 0);
    EXPECT_EQ(fcntl(fds_[1], F_SETFL, O_NONBLOCK), 0);
  }
  ~PairSender() {
    close(fds_[0]);
    if (fds_[1] >= 0) close(fds_[1]);
  }

  void Hold(const std::string& bytes) {
    MutexLock lock(&mu_);
    held_ += bytes;
  }
  // Fills the socket until it takes nothing more.
  void Fill() {
    const std::string chunk(64 << 10, 'f');
    while (send(fds_[0], chunk.data(), chunk.size(), MSG_DONTWAIT) > 0) {
    }
  }
  void ClosePeer() {
    close(fds_[1]);
    fds_[1] = -1;
  }
  // What the peer can read now.
  std::string Received() {
    std::string out;
    char buffer[4096];
    ssize_t n;
    while ((n = recv(fds_[1], buffer, sizeof(buffer), MSG_DONTWAIT)) > 0) out.append(buffer, n);
    return out;
  }
  std::vector<size_t> sent() {
    MutexLock lock(&mu_);
    return sent_;
  }
  std::string held() {
    MutexLock lock(&mu_);
    return held_;
  }

  Mutex& send_mu() override ABSL_LOCK_RETURNED(mu_) { return mu_; }
  absl::string_view HeldLocked(int* fd) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    *fd = fds_[0];
    return held_;
  }
  void SentLocked(size_t bytes) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    sent_.push_back(bytes);
    held_.erase(0, bytes);
  }

 private:
  int fds_[2] = {-1, -1};
  Mutex mu_;
  std::string held_ ABSL_GUARDED_BY(mu_);
  std::vector<size_t> sent_ ABSL_GUARDED_BY(mu_);
};

// A loop, started, for the batch to belong to; its thread is idle.
class Loop {
 public:
  Loop() {
    EXPECT_TRUE(loop_.Open().ok());
    loop_.Start([](void*, uint32_t) {});
  }
  ~Loop() { loop_.Stop(); }
  EventLoop& get() { return loop_; }

 private:
  EventLoop loop_;
};

std::vector<std::unique_ptr<PairSender>> Senders(int count) {
  std::vector<std::unique_ptr<PairSender>> senders;
  for (int i = 0; i < count; ++i) senders.push_back(std::make_unique<PairSender>());
  return senders;
}

// Every sender holds bytes, in batch.
void HoldAll(SendBatch& batch, const std::vector<std::unique_ptr<PairSender>>& senders,
             const std::string& bytes) {
  for (const auto& sender : senders) {
    sender->Hold(bytes);
    batch.Add(sender.get());
  }
}

TEST(SendBatchTest, EachSendersBytesReachItsPeerInOneSubmission) {
  Loop loop;
  SendBatch batch(loop.get());
  auto senders = Senders(3);
  for (int i = 0; i < 3; ++i) {
    senders[i]->Hold("reply of connection " + std::to_string(i));
    batch.Add(senders[i].get());
  }
  batch.Flush();
  EXPECT_EQ(batch.uses_io_uring(), IoUringAllowed());
  EXPECT_EQ(batch.submissions(), IoUringAllowed() ? 1 : 0);
  for (int i = 0; i < 3; ++i) {
    const std::string expected = "reply of connection " + std::to_string(i);
    if (batch.uses_io_uring()) {
      // The batch took every byte, and said so once.
      EXPECT_EQ(senders[i]->sent(), std::vector<size_t>{expected.size()});
      EXPECT_EQ(senders[i]->Received(), expected);
      EXPECT_EQ(senders[i]->held(), "");
    } else {
      // Left to each sender, whole.
      EXPECT_EQ(senders[i]->sent(), std::vector<size_t>{0});
      EXPECT_EQ(senders[i]->held(), expected);
    }
  }
  // A turn after it holds nothing from before.
  batch.Flush();
  for (auto& sender : senders) EXPECT_EQ(sender->sent().size(), 1u);
}

// A batch on a started loop, where io_uring is allowed (skipped elsewhere).
class SendBatchRingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!IoUringAllowed()) GTEST_SKIP() << "io_uring is not allowed here";
  }
  Loop loop_;
  SendBatch batch_{loop_.get()};
};

TEST_F(SendBatchRingTest, MoreSendersThanOneSubmissionTakesAreAllSentInEvenSubmissions) {
  // 2 * kMaxSends + 3 go in three submissions; kMaxSends + 1 in two (not in
  // one and a sender left to send alone).
  int64_t submissions = 0;
  for (const int count : {2 * static_cast<int>(SendBatch::kMaxSends) + 3,
                          static_cast<int>(SendBatch::kMaxSends) + 1}) {
    auto senders = Senders(count);
    for (int i = 0; i < count; ++i) {
      senders[i]->Hold(std::string(100 + i, 'a' + i % 26));
      batch_.Add(senders[i].get());
    }
    batch_.Flush();
    for (int i = 0; i < count; ++i) {
      EXPECT_EQ(senders[i]->Received(), std::string(100 + i, 'a' + i % 26)) << count << " " << i;
      EXPECT_EQ(senders[i]->held(), "") << count << " " << i;
    }
    submissions += count > static_cast<int>(SendBatch::kMaxSends) + 1 ? 3 : 2;
    EXPECT_EQ(batch_.submissions(), submissions) << count;
  }
}

TEST_F(SendBatchRingTest, AFullSocketLeavesItsBytesToItsSenderAndHoldsBackNoOther) {
  auto senders = Senders(3);
  senders[1]->Fill();
  HoldAll(batch_, senders, "answer");
  // Returns at once: the full socket's send fails with EAGAIN instead of
  // waiting for the peer to read.
  batch_.Flush();
  EXPECT_EQ(senders[0]->Received(), "answer");
  EXPECT_EQ(senders[2]->Received(), "answer");
  EXPECT_EQ(senders[1]->sent(), std::vector<size_t>{0});
  EXPECT_EQ(senders[1]->held(), "answer");
}

TEST_F(SendBatchRingTest, ASocketWithRoomForPartTakesThatPart) {
  auto senders = Senders(2);
  // More than a socket pair's buffer takes without a reader.
  const std::string big(4 << 20, 'b');
  senders[0]->Hold(big);
  senders[1]->Hold("small");
  batch_.Add(senders[0].get());
  batch_.Add(senders[1].get());
  batch_.Flush();
  const std::vector<size_t> sent = senders[0]->sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_GT(sent[0], 0u);
  EXPECT_LT(sent[0], big.size());
  EXPECT_EQ(senders[0]->held().size(), big.size() - sent[0]);
  EXPECT_EQ(senders[0]->Received().size(), sent[0]);
  EXPECT_EQ(senders[1]->Received(), "small");
}

TEST_F(SendBatchRingTest, APeerGoneFailsItsSendOnlyAndRaisesNoSignal) {
  auto senders = Senders(2);
  senders[0]->ClosePeer();
  HoldAll(batch_, senders, "answer");
  // MSG_NOSIGNAL: no SIGPIPE ends the test process.
  batch_.Flush();
  EXPECT_EQ(senders[0]->sent(), std::vector<size_t>{0});
  EXPECT_EQ(senders[1]->Received(), "answer");
}

TEST(SendBatchTest, ASenderDroppedIsNotSentFor) {
  Loop loop;
  SendBatch batch(loop.get());
  auto senders = Senders(3);
  HoldAll(batch, senders, "answer");
  batch.Drop(senders[1].get());
  batch.Flush();
  EXPECT_TRUE(senders[1]->sent().empty());
  EXPECT_EQ(senders[1]->Received(), "");
  EXPECT_EQ(senders[0]->sent().size(), 1u);
  EXPECT_EQ(senders[2]->sent().size(), 1u);
}

TEST(SendBatchTest, ALoneSenderSendsForItself) {
  Loop loop;
  SendBatch batch(loop.get());
  PairSender lone;
  lone.Hold("alone");
  batch.Add(&lone);
  batch.Flush();
  EXPECT_EQ(lone.sent(), std::vector<size_t>{0});
  EXPECT_EQ(lone.held(), "alone");
  // One sender a turn makes no ring, and no submission.
  EXPECT_FALSE(batch.uses_io_uring());
  EXPECT_EQ(batch.submissions(), 0);
}

// Whether batch holds, asked on its loop's thread while the loop serves an
// event.
bool HoldsOnTheLoopThread(bool enabled) {
  EventLoop loop;
  EXPECT_TRUE(loop.Open().ok());
  SendBatch batch(loop, enabled);
  std::atomic<int> holds{-1};
  absl::Notification served;
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  loop.Add(fds[0], nullptr, EPOLLIN);
  loop.Start([&](void*, uint32_t) {
    char byte;
    if (read(fds[0], &byte, 1) == 1 && !served.HasBeenNotified()) {
      holds = batch.Holds() ? 1 : 0;
      served.Notify();
    }
  });
  EXPECT_FALSE(batch.Holds());
  EXPECT_EQ(write(fds[1], "x", 1), 1);
  served.WaitForNotification();
  loop.Stop();
  close(fds[0]);
  close(fds[1]);
  return holds.load() == 1;
}

TEST(SendBatchTest, OnlyTheLoopsOwnThreadHolds) { EXPECT_TRUE(HoldsOnTheLoopThread(true)); }

TEST(SendBatchTest, ABatchNotEnabledHoldsNothing) { EXPECT_FALSE(HoldsOnTheLoopThread(false)); }

}  // namespace
}  // namespace shoal::server
