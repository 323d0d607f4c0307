// One accepted socket's TLS, for an event loop: each call does what the
// socket allows now, without blocking, and says what it waits for when it
// cannot finish (WANT_READ, WANT_WRITE). A write that could not finish is
// retried with the same bytes (more may follow them); OpenSSL is told the
// buffer may have moved.
//
// Thread-safe: OpenSSL's calls on one connection are serialised here, so the
// loop thread may read while another thread writes a reply.
#ifndef SHOAL_SERVER_TRANSPORT_TLS_SOCKET_H_
#define SHOAL_SERVER_TRANSPORT_TLS_SOCKET_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "shared/mutex.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace shoal::server {

class TlsSocket {
 public:
  // What an I/O call came to.
  enum class Io {
    kDone,       // the handshake is done, or bytes were moved
    kWantRead,   // nothing more until the socket is readable
    kWantWrite,  // nothing more until the socket is writable
    kEnd,        // the peer closed its side
    kFailed,     // see error()
  };
  struct Result {
    Io io;
    size_t bytes = 0;
  };

  // The TLS record type of a handshake: the first byte a TLS client sends.
  static constexpr unsigned char kHandshakeRecord = 0x16;

  // Serves fd (non-blocking, owned by the caller) as the server's side.
  TlsSocket(std::shared_ptr<SSL_CTX> ctx, int fd);
  ~TlsSocket();
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;

  // One step of the handshake; kDone once it is complete.
  Result Handshake() ABSL_LOCKS_EXCLUDED(mu_);
  // Reads up to size bytes of plaintext.
  Result Read(char* data, size_t size) ABSL_LOCKS_EXCLUDED(mu_);
  // Writes up to size bytes; a write that gave kWantRead or kWantWrite must
  // be retried with the same bytes first.
  Result Write(const char* data, size_t size) ABSL_LOCKS_EXCLUDED(mu_);

  // Whether Handshake has completed.
  bool established() const ABSL_LOCKS_EXCLUDED(mu_);
  // Why the last call failed.
  std::string error() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Result Outcome(int rc) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The context stays while the connection lives, whatever a reload does.
  const std::shared_ptr<SSL_CTX> ctx_;
  mutable Mutex mu_;
  SSL* const ssl_ ABSL_PT_GUARDED_BY(mu_);
  bool established_ ABSL_GUARDED_BY(mu_) = false;
  std::string error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_TLS_SOCKET_H_
