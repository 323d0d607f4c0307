// One event-loop thread: an epoll set, served by a thread of its own until
// Stop wakes it (through an eventfd) and joins it. What each descriptor's
// events mean is the owner's business: the loop hands them, with the tag the
// descriptor was added with, to the function given to Start.
//
// Before it sleeps, the thread may poll for a while (Start's poll): waking a
// sleeping thread costs more than a whole call on some machines (tens of
// microseconds on a paravirtualized guest), so when the events have been
// coming closer together than the poll lasts, the thread polls for the next
// one without sleeping, giving the core to any other runnable thread between
// polls. It polls only while the last wait was shorter than the poll: a
// connection calling less often than that, or none at all, finds the thread
// asleep and costs it nothing. Nor does it poll while it is kept waiting
// for its core (more runnable threads than cores, or than the cores it may
// use): then the poll takes time other threads need (the clients' among
// them), and the thread would often be waiting anyway. The loop knows from
// its own schedstat (the kernel's account of its time on a core and its
// time runnable but waiting for one), looked at every 10 ms while it polls:
// when it waited for a core more than a tenth of the time it was runnable,
// it sleeps without polling for 100 ms, then polls again, and looks again
// after 2 ms.
//
// After serving the events of one wait (a turn), the thread calls the
// turn's end given to Start, if any, before it waits again.
//
// Start and Stop from one thread; Add, and epoll_ctl on epoll_fd(), from any.
#ifndef SHOAL_SERVER_TRANSPORT_EVENT_LOOP_H_
#define SHOAL_SERVER_TRANSPORT_EVENT_LOOP_H_

#include <cstdint>
#include <functional>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"

struct epoll_event;

namespace shoal::server {

class EventLoop {
 public:
  // Serves the events of one descriptor: its tag, and epoll's event bits.
  using Serve = std::function<void(void* tag, uint32_t events)>;
  // Runs at the end of each turn, on the loop thread.
  using TurnEnd = std::function<void()>;

  EventLoop() = default;
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Creates the epoll set; Start runs it.
  absl::Status Open();
  // The longest poll Start takes; a longer one is cut to it.
  static constexpr absl::Duration kMaxPoll = absl::Seconds(10);
  // Crowded: waiting for a core more than 1/kCrowdedShare of the time the
  // loop thread was runnable.
  static constexpr int64_t kCrowdedShare = 10;

  // Starts the thread, which calls serve for every event until Stop, and
  // turn_end (if any) after the events of each wait, polling for up to poll
  // before it sleeps (see above; zero: never), even while kept waiting for
  // its core if poll_when_crowded.
  void Start(Serve serve, absl::Duration poll = absl::ZeroDuration(),
             bool poll_when_crowded = false, TurnEnd turn_end = nullptr);
  // Watches fd for events; they reach serve with tag.
  void Add(int fd, void* tag, uint32_t events);
  // Wakes the thread and waits for it to return; events not yet served stay
  // unserved. Idempotent.
  void Stop();

  int epoll_fd() const { return epoll_fd_; }
  // Any thread: whether the caller is this loop's thread.
  bool OnLoopThread() const;

 private:
  void Run(const Serve& serve, const TurnEnd& turn_end, absl::Duration poll,
           bool poll_when_crowded);
  // Waits for events; returns epoll_wait's count.
  int Wait(epoll_event* events, int size, int64_t poll_ns);
  // Whether the loop thread waited for a core more than a share of the time
  // it was runnable, since the last answer (see above).
  bool Crowded(int64_t now);
  // Nanoseconds: between looks while polling; for how long a crowded
  // answer holds; how soon the look after that comes.
  static constexpr int64_t kCrowdCheckEvery = 10'000'000;
  static constexpr int64_t kCrowdedFor = 100'000'000;
  static constexpr int64_t kCrowdProbe = 2'000'000;
  // The thread's schedstat: nanoseconds on a core, and waiting for one.
  bool ReadSchedstat(int64_t* ran, int64_t* waited) const;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  // Loop thread only: whether the last wait was shorter than the poll.
  bool events_close_ = false;
  // Loop thread only: Crowded's state. The thread's schedstat (-1: none, or
  // the loop polls even when crowded); when it looks next (MonotonicNanos);
  // what it read when it last answered, and that answer.
  int run_delay_fd_ = -1;
  int64_t next_crowd_check_ = 0;
  int64_t last_ran_ = 0;
  int64_t last_waited_ = 0;
  bool crowded_ = false;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_EVENT_LOOP_H_
