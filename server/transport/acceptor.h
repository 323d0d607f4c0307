// Where the server accepts its connections, for both ports: one thread with
// an epoll set (EventLoop) watches every listener, takes each connection
// and hands its descriptor to the port's owner (the gRPC server, the framed
// transport).
//
// Two things are decided here, once for both ports:
//
// - Running out of descriptors (or of kernel memory) does not make the
//   acceptor spin on a listener that stays readable: it stops watching that
//   listener, tries it again after a pause (100 ms, doubling up to 1 s, on a
//   timerfd), and logs once when the episode starts and once when it ends.
// - At most max_connections connections are open at once, on both ports
//   together. One over is refused in words its client reads, then closed:
//   on the framed port the port's refusal bytes (a last frame), on the gRPC
//   port the answer of gRPC to its first call, RESOURCE_EXHAUSTED with the
//   same words (a call the server never answered, the client would quietly
//   retry). Refusals are logged at most once a second. The acceptor knows which connections are still open without
//   being told: it remembers each descriptor it handed off with its inode,
//   and a descriptor that is closed, or names another file, is a connection
//   that ended. It looks (a sweep) when the count reaches the limit.
//
// Add, then Start, then Stop, from one thread; the rest runs on the
// acceptor's thread.
#ifndef SHOAL_SERVER_TRANSPORT_ACCEPTOR_H_
#define SHOAL_SERVER_TRANSPORT_ACCEPTOR_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/transport/event_loop.h"
#include "server/transport/listener.h"

namespace shoal::server {

class Acceptor {
 public:
  struct Port {
    // How the log names the port ("gRPC", "framed").
    std::string name;
    // Bound already; the acceptor accepts on it, and closes it on Stop.
    Listener* listener = nullptr;
    // Takes an accepted connection's descriptor, and owns it from then on.
    std::function<void(int fd)> hand_off;
    // What a connection refused over the limit is sent before it is closed,
    // on a port that is not gRPC.
    std::string refusal;
    // A gRPC port: a refused connection is answered in HTTP/2.
    bool grpc = false;
  };

  // The pause after a failed accept: the first, and the longest.
  static constexpr absl::Duration kFirstPause = absl::Milliseconds(100);
  static constexpr absl::Duration kLongestPause = absl::Seconds(1);

  // max_connections: 0 for no limit.
  explicit Acceptor(int64_t max_connections);
  ~Acceptor();
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  void Add(Port port);
  absl::Status Start();
  // Stops accepting and closes the listeners. Idempotent.
  void Stop();

  // The words a refused connection is told, naming the limit.
  static std::string RefusalMessage(int64_t max_connections);
  // How the gRPC port ends a refused connection, in HTTP/2: SETTINGS ACK,
  // then (when the client opened stream, not 0) a gRPC status for it,
  // RESOURCE_EXHAUSTED with message, and GOAWAY (ENHANCE_YOUR_CALM, message
  // as its debug data).
  static std::string Http2Refusal(uint32_t stream, const std::string& message);

 private:
  struct Watched {
    Port port;
    int timer_fd = -1;
    // Whether the listener is out of the epoll set, waiting for the timer.
    bool paused = false;
    absl::Duration pause = kFirstPause;
    // When the episode of failed accepts began; InfinitePast outside one.
    absl::Time paused_since = absl::InfinitePast();
    // The tags of the listener's and the timer's events.
    char listener_tag = 0;
    char timer_tag = 0;
  };

  void Serve(void* tag, uint32_t events);
  // Takes the connections waiting on one listener.
  void AcceptFrom(Watched& watched);
  // Out of a resource (errno error): stop watching, try again after a pause.
  void Pause(Watched& watched, int error);
  // Whether one more connection may open; sweeps when at the limit.
  bool Admit(int fd);
  // Forgets the handed-off descriptors that are closed now.
  void Sweep();
  void Refuse(Watched& watched, int fd);

  // A refused gRPC connection, read until its first call (HEADERS) shows
  // which stream to answer, for at most kRefusalWait. A fixed set of slots,
  // never freed, so that an event still queued for a slot let go meanwhile
  // finds the slot, not freed memory (at worst a read that finds nothing).
  struct Refusing {
    int fd = -1;
    absl::Time deadline;
    std::string in;
  };
  void ReadRefusing(Refusing& refusing);
  // Answers the refused call (stream 0: none), and closes the connection.
  void EndRefusing(Refusing& refusing, uint32_t stream);
  // The refusal timer: ends the refusals past their deadline.
  void ExpireRefusals();
  static constexpr int kRefusingSlots = 32;
  Refusing refusing_[kRefusingSlots];
  int refusal_timer_fd_ = -1;
  char refusal_timer_tag_ = 0;

  const int64_t max_connections_;
  std::vector<std::unique_ptr<Watched>> watched_;
  EventLoop loop_;

  // The acceptor thread's alone from Start on.
  // Each descriptor handed off, with its file's (device, inode).
  struct FileId {
    dev_t dev;
    ino_t ino;
  };
  absl::flat_hash_map<int, FileId> handed_;
  absl::Time last_sweep_end_ = absl::InfinitePast();
  absl::Duration last_sweep_took_;
  // Refusals since the last one logged.
  int64_t refusals_unlogged_ = 0;
  absl::Time last_refusal_log_ = absl::InfinitePast();
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_ACCEPTOR_H_
