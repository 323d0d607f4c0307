// The client's TLS: which settings apply (ConnectOptions::tls and the
// environment), and the framed transport's TLS over a connected socket with
// OpenSSL. gRPC's channel takes the same settings as its SSL credentials
// (grpc_transport.cc).
//
// Thread-safety: a TlsConnection takes one reader and one writer at once,
// each on its own thread; OpenSSL's calls on it are serialised inside, and
// neither holds the lock while it waits for the socket.
#ifndef SHOAL_CLIENT_SRC_TLS_H_
#define SHOAL_CLIENT_SRC_TLS_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shared/mutex.h"
#include "shoal/manager.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace shoal::detail {

// The TLS settings that apply: given's fields, with the empty ones taken from
// $SHOAL_TLS_CA_FILE, $SHOAL_TLS_CERT_FILE and $SHOAL_TLS_KEY_FILE; nullopt
// (plaintext) when given is nullopt and none of those is set. Throws
// ValueError for a certificate without its key or the reverse.
std::optional<TlsOptions> ResolveTls(const std::optional<TlsOptions>& given);

// The whole of a PEM file, for gRPC's credentials; throws ValueError naming
// what the file was for when it cannot be read.
std::string ReadTlsFile(const std::string& path, const char* what);

// The name the server's certificate must carry, for a server at host ("" for
// a unix socket).
std::string TlsServerName(const TlsOptions& tls, const std::string& host);

class TlsConnection {
 public:
  // Runs the client's side of the handshake on fd (connected; made
  // non-blocking here) by deadline, checking the server's certificate
  // against tls.ca_file and server_name. The error says why it failed: the
  // certificate not trusted, a server without TLS, a refused client
  // certificate. The connection does not own fd.
  static absl::StatusOr<std::unique_ptr<TlsConnection>> Connect(
      int fd, const TlsOptions& tls, const std::string& server_name,
      std::chrono::system_clock::time_point deadline);
  ~TlsConnection();
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  // Reads up to size bytes, waiting for them: the count, 0 at the end of the
  // stream, -1 on failure (error() says why).
  ssize_t Read(char* data, size_t size) ABSL_LOCKS_EXCLUDED(mu_);
  // Writes all of data, waiting for the socket; false on failure.
  bool Write(const char* data, size_t size) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether bytes already read from the socket wait to be read.
  bool pending() ABSL_LOCKS_EXCLUDED(mu_);
  std::string error() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  TlsConnection(std::shared_ptr<SSL_CTX> ctx, SSL* ssl, int fd)
      : ctx_(std::move(ctx)), ssl_(ssl), fd_(fd) {}
  // Waits until fd can do what OpenSSL's last call wanted (a SSL_ERROR_WANT_*).
  bool Await(int want);

  const std::shared_ptr<SSL_CTX> ctx_;
  Mutex mu_;
  SSL* const ssl_ ABSL_PT_GUARDED_BY(mu_);
  const int fd_;
  std::string error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_TLS_H_
