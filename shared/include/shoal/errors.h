// The exceptions the client library throws. Each mirrors the Python exception
// that multiprocessing.Manager() proxies raise in the same situation, so code
// ported from Python handles the same cases.
#ifndef SHOAL_ERRORS_H_
#define SHOAL_ERRORS_H_

#include <stdexcept>
#include <string>
#include <utility>

namespace shoal {

// Base of every shoal error. kind() is the Python exception name, such as
// "KeyError".
class Error : public std::runtime_error {
 public:
  Error(std::string kind, const std::string& message)
      : std::runtime_error(message), kind_(std::move(kind)) {}
  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
};

#define SHOAL_DEFINE_ERROR(Name)                                      \
  class Name : public Error {                                         \
   public:                                                            \
    explicit Name(const std::string& message) : Error(#Name, message) {} \
                                                                      \
   protected:                                                         \
    Name(std::string kind, const std::string& message)                \
        : Error(std::move(kind), message) {}                           \
  }

SHOAL_DEFINE_ERROR(KeyError);
SHOAL_DEFINE_ERROR(IndexError);
SHOAL_DEFINE_ERROR(ValueError);
SHOAL_DEFINE_ERROR(TypeError);
SHOAL_DEFINE_ERROR(AttributeError);
// Releasing a lock that is not held, waiting on a Condition without its lock.
SHOAL_DEFINE_ERROR(RuntimeError);
// Queue.get without blocking, or past its timeout, on an empty queue.
SHOAL_DEFINE_ERROR(Empty);
// Queue.put without blocking, or past its timeout, on a full queue.
SHOAL_DEFINE_ERROR(Full);
SHOAL_DEFINE_ERROR(BrokenBarrierError);
SHOAL_DEFINE_ERROR(TimeoutError);
// The authkey was refused, or the server could not prove it holds the key.
SHOAL_DEFINE_ERROR(AuthenticationError);
// The server cannot be reached, or the session was lost.
SHOAL_DEFINE_ERROR(ConnectionError);
// A server limit (objects, bytes held, message size) was reached.
SHOAL_DEFINE_ERROR(LimitError);
// recv on a Pipe end whose peer is closed, once all it sent was received.
SHOAL_DEFINE_ERROR(EOFError);
// Using a closed Pipe end, or an end in the direction it does not go.
SHOAL_DEFINE_ERROR(OSError);
// A number out of the range of an Array's or a Value's typecode.
SHOAL_DEFINE_ERROR(OverflowError);
// put or get on a Queue that was shut down (Python 3.13's queue.ShutDown).
SHOAL_DEFINE_ERROR(ShutDown);
// A Pool task whose workers were lost (their process died, their host
// vanished) more times than the pool's max_retries allows.
SHOAL_DEFINE_ERROR(WorkerLost);

#undef SHOAL_DEFINE_ERROR

// The session ended while its client was away: its connection broke and did
// not come back within the server's grace, the server started again, or the
// server ended it (no heartbeat for its lease). What it held (locks, parked
// calls, references) is gone; the message says why. A ConnectionError, so
// that code catching lost connections catches it too.
class SessionExpired : public ConnectionError {
 public:
  explicit SessionExpired(const std::string& message)
      : ConnectionError("SessionExpired", message) {}
};

}  // namespace shoal

#endif  // SHOAL_ERRORS_H_
