// OpenSSL helpers shared by the server's and the client's TLS sockets.
#ifndef SHOAL_SHARED_TLS_UTIL_H_
#define SHOAL_SHARED_TLS_UTIL_H_

#include <signal.h>

#include <string>

namespace shoal {

// The OpenSSL errors queued on this thread, as one line ("; " between them),
// or fallback when there are none; the queue is cleared.
std::string TakeTlsErrors(const std::string& fallback);

// Holds SIGPIPE blocked on this thread while OpenSSL writes to a socket the
// peer may have closed (its socket BIO uses write(2), not send with
// MSG_NOSIGNAL): a SIGPIPE raised meanwhile is taken back, and the write
// fails with EPIPE instead of ending the process.
class NoSigpipe {
 public:
  NoSigpipe();
  ~NoSigpipe();
  NoSigpipe(const NoSigpipe&) = delete;
  NoSigpipe& operator=(const NoSigpipe&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

}  // namespace shoal

#endif  // SHOAL_SHARED_TLS_UTIL_H_
