#include "server/transport/tls_socket.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <climits>
#include <cstring>
#include <utility>

#include "server/transport/tls_context.h"
#include "shared/tls_util.h"

namespace shoal::server {
namespace {

}  // namespace

TlsSocket::TlsSocket(std::shared_ptr<SSL_CTX> ctx, int fd)
    : ctx_(std::move(ctx)), ssl_(SSL_new(ctx_.get())) {
  SSL_set_fd(ssl_, fd);
  SSL_set_accept_state(ssl_);
}

TlsSocket::~TlsSocket() { SSL_free(ssl_); }

TlsSocket::Result TlsSocket::Handshake() {
  MutexLock lock(&mu_);
  if (established_) return {Io::kDone};
  ERR_clear_error();
  errno = 0;
  NoSigpipe no_sigpipe;
  const int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    established_ = true;
    return {Io::kDone};
  }
  Result result = Outcome(rc);
  // A handshake the client ended is a failed one, whatever the reason.
  if (result.io == Io::kEnd) {
    result.io = Io::kFailed;
    if (error_.empty()) error_ = "the client closed the connection during the TLS handshake";
  }
  return result;
}

TlsSocket::Result TlsSocket::Read(char* data, size_t size) {
  MutexLock lock(&mu_);
  ERR_clear_error();
  errno = 0;
  NoSigpipe no_sigpipe;
  const int rc = SSL_read(ssl_, data, static_cast<int>(std::min<size_t>(size, INT_MAX)));
  if (rc > 0) return {Io::kDone, static_cast<size_t>(rc)};
  return Outcome(rc);
}

TlsSocket::Result TlsSocket::Write(const char* data, size_t size) {
  MutexLock lock(&mu_);
  if (!established_) {
    error_ = "written to before the TLS handshake was done";
    return {Io::kFailed};
  }
  ERR_clear_error();
  errno = 0;
  NoSigpipe no_sigpipe;
  const int rc = SSL_write(ssl_, data, static_cast<int>(std::min<size_t>(size, INT_MAX)));
  if (rc > 0) return {Io::kDone, static_cast<size_t>(rc)};
  return Outcome(rc);
}

bool TlsSocket::established() const {
  MutexLock lock(&mu_);
  return established_;
}

std::string TlsSocket::error() const {
  MutexLock lock(&mu_);
  return error_;
}

TlsSocket::Result TlsSocket::Outcome(int rc) {
  switch (SSL_get_error(ssl_, rc)) {
    case SSL_ERROR_WANT_READ:
      return {Io::kWantRead};
    case SSL_ERROR_WANT_WRITE:
      return {Io::kWantWrite};
    case SSL_ERROR_ZERO_RETURN:
      return {Io::kEnd};
    case SSL_ERROR_SYSCALL:
      if (errno == EINTR || errno == EAGAIN) return {Io::kWantRead};
      if (errno == 0) return {Io::kEnd};
      error_ = std::strerror(errno);
      return {Io::kFailed};
    default:
      error_ = TakeTlsErrors("TLS failed");
      return {Io::kFailed};
  }
}

}  // namespace shoal::server
