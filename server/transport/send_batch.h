// The replies of one turn of an event loop, sent together.
//
// A loop's turn serves the events one epoll_wait returned: it reads the
// connections that have frames, and runs their calls. Sending each
// connection's replies as soon as they are made costs a system call each,
// and every send wakes the client it answers. On a busy machine that client
// often takes the loop's core on the spot (the kernel preempts the loop on
// its way back from the send), and the connections not served yet wait for
// the loop to get its core back. A loop's SendBatch instead holds the
// replies its thread makes during a turn (the framed transport's TCP
// connections use it), and sends them once the turn's events are served:
// with io_uring, in one system call for all of them (up to kMaxSends at a
// time), after which the loop gives up its core at most once.
//
// Without io_uring (a kernel without it, or one that forbids it to the
// process, as container runtimes may), or when only one connection has
// replies, each connection sends its own with send(2) at the turn's end.
//
// A connection is held only by its own loop's thread, during a turn, and the
// turn ends before the thread waits again: replies wait at most for the
// other connections of the same turn to be served. (Replies that other
// threads make for a held connection go with the held ones.)
//
// Thread-safe as marked: Holds from any thread; Add, Flush and
// uses_io_uring on the loop thread; Drop on the loop thread, or once it has
// stopped.
#ifndef SHOAL_SERVER_TRANSPORT_SEND_BATCH_H_
#define SHOAL_SERVER_TRANSPORT_SEND_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "server/transport/event_loop.h"
#include "shared/mutex.h"

namespace shoal::server {

class SendBatch {
 public:
  // One connection whose replies the batch may hold; its lock guards what
  // it has to send.
  class Sender {
   public:
    virtual Mutex& send_mu() = 0;
    // send_mu held: the socket, and the bytes held for the batch (empty when
    // the connection sent them meanwhile, or was closed).
    virtual absl::string_view HeldLocked(int* fd) = 0;
    // send_mu held: the batch took bytes of what HeldLocked gave (0 when it
    // sent nothing); the connection sends the rest itself, or waits for its
    // socket to drain, and holds nothing any more.
    virtual void SentLocked(size_t bytes) = 0;

   protected:
    ~Sender() = default;
  };

  // Most sends in one system call. The batch holds the locks of the
  // connections it sends for during that call.
  static constexpr unsigned kMaxSends = 16;

  // The batch of loop's turns; one that is not enabled holds nothing (its
  // connections send at once).
  explicit SendBatch(const EventLoop& loop, bool enabled = true);
  ~SendBatch();
  SendBatch(const SendBatch&) = delete;
  SendBatch& operator=(const SendBatch&) = delete;

  // Any thread: whether the caller is the loop thread, in a turn, whose end
  // will flush what it holds. (Replies made by other threads go at once.)
  bool Holds() const { return enabled_ && loop_.OnLoopThread(); }

  // Loop thread: sender holds bytes until the turn's end. Once per turn.
  void Add(Sender* sender) { held_.push_back(sender); }
  // Loop thread: a sender that goes before the turn's end.
  void Drop(Sender* sender);
  // Loop thread, at a turn's end: sends what every sender holds.
  void Flush();

  // Whether the batch sends through io_uring (known once a Flush has had two
  // senders or more), and how many submissions it has made.
  bool uses_io_uring() const { return ring_ != nullptr; }
  int64_t submissions() const { return submissions_; }

 private:
  struct Ring;
  // Sends for senders[0, count) in one io_uring submission; false, doing
  // nothing, without a ring. A kernel that refuses the ring's submissions or
  // its sends (an old one, or a sandbox) has the ring given up: then each
  // sender sends for itself, from then on. It holds the senders' locks
  // together, which the analysis cannot follow: they are taken in address
  // order (Flush sorts them), and only the loop thread takes more than one
  // at a time.
  bool SendTogether(Sender* const* senders, size_t count) ABSL_NO_THREAD_SAFETY_ANALYSIS;

  // Gives the ring up; the next turns send without it.
  void DropRing();

  const EventLoop& loop_;
  const bool enabled_;
  // Loop thread only. Whether io_uring may still be tried; the ring, once
  // made (on the loop thread, its only user); submissions made.
  bool try_ring_ = true;
  std::unique_ptr<Ring> ring_;
  int64_t submissions_ = 0;
  std::vector<Sender*> held_;
  std::vector<Sender*> flushing_;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_SEND_BATCH_H_
