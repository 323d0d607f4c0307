#include "server/transport/event_loop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

// The tag of the wake-up descriptor, in epoll's data.
char wake_tag;

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

void EventLoop::Start(Serve serve) {
  thread_ = std::thread([this, serve = std::move(serve)] { Run(serve); });
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

void EventLoop::Run(const Serve& serve) {
  constexpr int kEvents = 64;
  epoll_event events[kEvents];
  for (;;) {
    const int n = epoll_wait(epoll_fd_, events, kEvents, -1);
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
