// One event-loop thread: an epoll set, served by a thread of its own until
// Stop wakes it (through an eventfd) and joins it. What each descriptor's
// events mean is the owner's business: the loop hands them, with the tag the
// descriptor was added with, to the function given to Start.
//
// Start and Stop from one thread; Add, and epoll_ctl on epoll_fd(), from any.
#ifndef SHOAL_SERVER_TRANSPORT_EVENT_LOOP_H_
#define SHOAL_SERVER_TRANSPORT_EVENT_LOOP_H_

#include <cstdint>
#include <functional>
#include <thread>

#include "absl/status/status.h"

namespace shoal::server {

class EventLoop {
 public:
  // Serves the events of one descriptor: its tag, and epoll's event bits.
  using Serve = std::function<void(void* tag, uint32_t events)>;

  EventLoop() = default;
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Creates the epoll set; Start runs it.
  absl::Status Open();
  // Starts the thread, which calls serve for every event until Stop.
  void Start(Serve serve);
  // Watches fd for events; they reach serve with tag.
  void Add(int fd, void* tag, uint32_t events);
  // Wakes the thread and waits for it to return; events not yet served stay
  // unserved. Idempotent.
  void Stop();

  int epoll_fd() const { return epoll_fd_; }

 private:
  void Run(const Serve& serve);

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_EVENT_LOOP_H_
