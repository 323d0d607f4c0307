#include "server/transport/event_loop.h"

#include <errno.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

// The tag of the wake-up descriptor, in epoll's data.
char wake_tag;

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

void EventLoop::Start(Serve serve, absl::Duration poll) {
  // A poll is bounded (an infinite one would spin for ever once begun).
  poll = std::clamp(poll, absl::ZeroDuration(), kMaxPoll);
  thread_ = std::thread([this, serve = std::move(serve), poll] { Run(serve, poll); });
}

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

int EventLoop::Wait(epoll_event* events, int size, int64_t poll_ns) {
  if (poll_ns <= 0) return epoll_wait(epoll_fd_, events, size, -1);
  const int64_t start = MonotonicNanos();
  if (events_close_) {
    // The next event is expected soon: poll, yielding the core between polls.
    do {
      const int n = epoll_wait(epoll_fd_, events, size, 0);
      if (n != 0) return n;
      sched_yield();
    } while (MonotonicNanos() - start < poll_ns);
  }
  const int n = epoll_wait(epoll_fd_, events, size, -1);
  events_close_ = MonotonicNanos() - start < poll_ns;
  return n;
}

void EventLoop::Run(const Serve& serve, absl::Duration poll) {
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
      if (tag == &wake_tag) return;
      serve(tag, events[i].events);
    }
  }
}

}  // namespace shoal::server
