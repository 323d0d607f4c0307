#include "server/transport/event_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

// The tag of the wake-up descriptor, in epoll's data.
char wake_tag;

// The loop whose thread this is, if any.
thread_local const EventLoop* this_threads_loop = nullptr;

int64_t MonotonicNanos() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

}  // namespace

EventLoop::~EventLoop() {
  Stop();
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

absl::Status EventLoop::Open() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    return error::ValueError(absl::StrCat("epoll: ", std::strerror(errno)));
  }
  Add(wake_fd_, &wake_tag, EPOLLIN);
  return absl::OkStatus();
}

void EventLoop::Start(Serve serve, absl::Duration poll, bool poll_when_crowded,
                      TurnEnd turn_end) {
  // A poll is bounded (an infinite one would spin for ever once begun).
  poll = std::clamp(poll, absl::ZeroDuration(), kMaxPoll);
  thread_ = std::thread(
      [this, serve = std::move(serve), turn_end = std::move(turn_end), poll, poll_when_crowded] {
        Run(serve, turn_end, poll, poll_when_crowded);
      });
}

bool EventLoop::OnLoopThread() const { return this_threads_loop == this; }

void EventLoop::Add(int fd, void* tag, uint32_t events) {
  epoll_event event{};
  event.events = events;
  event.data.ptr = tag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
}

void EventLoop::Stop() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  thread_.join();
}

bool EventLoop::Crowded(int64_t now) {
  if (run_delay_fd_ < 0 || now < next_crowd_check_) return crowded_;
  int64_t ran = 0;
  int64_t waited = 0;
  if (!ReadSchedstat(&ran, &waited)) {
    crowded_ = false;
    next_crowd_check_ = now + kCrowdCheckEvery;
    return false;
  }
  if (crowded_) {
    // The answer has lasted kCrowdedFor: poll again, for a short while from
    // here, to see whether the loop still waits for its core. (Asleep, its
    // figures hardly move, and say little.)
    crowded_ = false;
    last_ran_ = ran;
    last_waited_ = waited;
    next_crowd_check_ = now + kCrowdProbe;
    return false;
  }
  next_crowd_check_ = now + kCrowdCheckEvery;
  const int64_t ran_since = ran - last_ran_;
  const int64_t waited_since = waited - last_waited_;
  // Too little time runnable since the last answer says little: the next
  // look adds to it.
  if (ran_since + waited_since < kCrowdProbe / 2) return false;
  last_ran_ = ran;
  last_waited_ = waited;
  crowded_ = waited_since * kCrowdedShare > ran_since + waited_since;
  if (crowded_) next_crowd_check_ = now + kCrowdedFor;
  return crowded_;
}

bool EventLoop::ReadSchedstat(int64_t* ran, int64_t* waited) const {
  // Its time on a core, then its time runnable but waiting for one, in
  // nanoseconds (the kernel's sched-stats.rst).
  char text[96];
  const ssize_t size = pread(run_delay_fd_, text, sizeof(text) - 1, 0);
  if (size <= 0) return false;
  text[size] = '\0';
  char* end = nullptr;
  *ran = static_cast<int64_t>(std::strtoull(text, &end, 10));
  if (end == text) return false;
  char* second = end;
  *waited = static_cast<int64_t>(std::strtoull(second, &end, 10));
  return end != second;
}

int EventLoop::Wait(epoll_event* events, int size, int64_t poll_ns) {
  if (poll_ns <= 0) return epoll_wait(epoll_fd_, events, size, -1);
  int64_t now = MonotonicNanos();
  const int64_t start = now;
  if (events_close_) {
    // The next event is expected soon: poll, yielding the core between
    // polls, unless other threads are waiting for cores.
    while (!Crowded(now)) {
      const int n = epoll_wait(epoll_fd_, events, size, 0);
      if (n != 0) return n;
      sched_yield();
      now = MonotonicNanos();
      if (now - start >= poll_ns) break;
    }
  }
  const int n = epoll_wait(epoll_fd_, events, size, -1);
  events_close_ = MonotonicNanos() - start < poll_ns;
  return n;
}

void EventLoop::Run(const Serve& serve, const TurnEnd& turn_end, absl::Duration poll,
                    bool poll_when_crowded) {
  this_threads_loop = this;
  // This thread's own scheduling figures (Crowded); without them (a kernel
  // without CONFIG_SCHED_INFO) the loop polls whenever events come close
  // together.
  events_close_ = false;
  crowded_ = false;
  next_crowd_check_ = 0;
  if (poll > absl::ZeroDuration() && !poll_when_crowded) {
    run_delay_fd_ = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    if (run_delay_fd_ >= 0 && !ReadSchedstat(&last_ran_, &last_waited_)) {
      close(run_delay_fd_);
      run_delay_fd_ = -1;
    }
  }
  absl::Cleanup close_run_delay = [this] {
    if (run_delay_fd_ >= 0) close(run_delay_fd_);
    run_delay_fd_ = -1;
  };
  constexpr int kEvents = 64;
  epoll_event events[kEvents];
  const int64_t poll_ns = absl::ToInt64Nanoseconds(poll);
  for (;;) {
    const int n = Wait(events, kEvents, poll_ns);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < n; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == &wake_tag) {
        if (turn_end) turn_end();
        return;
      }
      serve(tag, events[i].events);
    }
    if (turn_end) turn_end();
  }
}

}  // namespace shoal::server
