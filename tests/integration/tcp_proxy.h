// A TCP proxy between a client and a server, for tests of broken
// connections: it forwards each connection it accepts to its target, and on
// demand cuts every connection open (both sides see it closed), refuses new
// ones (accepted and closed at once) and accepts them again, or stops
// passing what the server sends (so that a call runs but its reply is lost
// with the cut), or silences the connections open (a path that dies without
// a reset: nothing passes either way, and neither side is told). It counts
// what it does, so that tests wait for events.
//
// Thread-safe: one thread of its own moves the bytes.
#ifndef SHOAL_TESTS_INTEGRATION_TCP_PROXY_H_
#define SHOAL_TESTS_INTEGRATION_TCP_PROXY_H_

#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "shared/mutex.h"

namespace shoal::testing {

class TcpProxy {
 public:
  // Listens on listen_host:listen_port (0: a free port) and forwards to
  // target_host:target_port. Aborts the test program if it cannot listen.
  TcpProxy(const std::string& listen_host, uint16_t listen_port, std::string target_host,
           uint16_t target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  uint16_t port() const { return port_; }

  // Closes every connection open, and refuses new ones until Accept.
  void Cut() ABSL_LOCKS_EXCLUDED(mu_);
  // Forwards new connections again.
  void Accept() ABSL_LOCKS_EXCLUDED(mu_);
  // What the server sends is dropped (true) or passed (false).
  void MuteReplies(bool mute) ABSL_LOCKS_EXCLUDED(mu_);
  // The connections open now pass nothing more, either way, and stay open
  // until the proxy goes: what comes in waits unread in the kernel's
  // buffers. New connections are forwarded as before.
  void Silence() ABSL_LOCKS_EXCLUDED(mu_);
  // Forwards new connections to another port of the target host.
  void Retarget(uint16_t target_port) ABSL_LOCKS_EXCLUDED(mu_);

  // Connections forwarded so far, and open now.
  int forwarded() const ABSL_LOCKS_EXCLUDED(mu_);
  int open() const ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until forwarded() reaches n; false after timeout.
  bool WaitForwarded(int n, absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Pair {
    int client = -1;
    int server = -1;
    // Silenced: never read or written again.
    bool silent = false;
  };
  void Loop();
  void ClosePairLocked(size_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string target_host_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  // Wakes the loop (a pipe's write end, and its read end).
  int wake_[2] = {-1, -1};

  mutable Mutex mu_;
  uint16_t target_port_ ABSL_GUARDED_BY(mu_);
  std::vector<Pair> pairs_ ABSL_GUARDED_BY(mu_);
  bool refusing_ ABSL_GUARDED_BY(mu_) = false;
  bool muted_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int forwarded_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

// A free TCP port on host, as the kernel picks it (free when it returns).
uint16_t FreePort(const std::string& host);

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_INTEGRATION_TCP_PROXY_H_
