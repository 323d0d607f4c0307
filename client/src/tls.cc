#include "client/src/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "shared/tls_util.h"
#include "shoal/errors.h"

namespace shoal::detail {
namespace {

std::string FromEnv(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

// What a failed TLS exchange probably means, for the error's reader.
std::string Explain(const std::string& error) {
  if (absl::StrContains(error, "wrong version number") ||
      absl::StrContains(error, "packet length too long") ||
      absl::StrContains(error, "record layer failure")) {
    return absl::StrCat(error, " (the server does not seem to use TLS)");
  }
  if (absl::StrContains(error, "certificate required") ||
      absl::StrContains(error, "alert handshake failure") ||
      absl::StrContains(error, "alert bad certificate") ||
      absl::StrContains(error, "alert unknown ca")) {
    return absl::StrCat(error,
                        " (the server requires a client certificate its CA signed: "
                        "TlsOptions::cert_file and key_file, or $SHOAL_TLS_CERT_FILE and "
                        "$SHOAL_TLS_KEY_FILE)");
  }
  return error;
}

}  // namespace

std::optional<TlsOptions> ResolveTls(const std::optional<TlsOptions>& given) {
  TlsOptions tls = given.value_or(TlsOptions());
  if (tls.ca_file.empty()) tls.ca_file = FromEnv("SHOAL_TLS_CA_FILE");
  if (tls.cert_file.empty()) tls.cert_file = FromEnv("SHOAL_TLS_CERT_FILE");
  if (tls.key_file.empty()) tls.key_file = FromEnv("SHOAL_TLS_KEY_FILE");
  if (!given.has_value() && tls.ca_file.empty() && tls.cert_file.empty() &&
      tls.key_file.empty()) {
    return std::nullopt;
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    throw ValueError(
        "a TLS client certificate needs its key, and a key its certificate (TlsOptions::cert_file "
        "and key_file, or $SHOAL_TLS_CERT_FILE and $SHOAL_TLS_KEY_FILE)");
  }
  return tls;
}

std::string ReadTlsFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || text.str().empty()) {
    throw ValueError(absl::StrCat("cannot read the TLS ", what, " file '", path,
                                  "': ", in ? "it is empty" : std::strerror(errno)));
  }
  return text.str();
}

std::string TlsServerName(const TlsOptions& tls, const std::string& host) {
  if (!tls.server_name.empty()) return tls.server_name;
  return host.empty() ? "localhost" : host;
}

absl::StatusOr<std::unique_ptr<TlsConnection>> TlsConnection::Connect(
    int fd, const TlsOptions& tls, const std::string& server_name,
    std::chrono::system_clock::time_point deadline) {
  ERR_clear_error();
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (ctx == nullptr) return absl::InternalError(TakeTlsErrors("cannot make a TLS context"));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  const int loaded = tls.ca_file.empty()
                         ? SSL_CTX_set_default_verify_paths(ctx.get())
                         : SSL_CTX_load_verify_locations(ctx.get(), tls.ca_file.c_str(), nullptr);
  if (loaded != 1) {
    return absl::InvalidArgumentError(absl::StrCat("cannot load the TLS CA file '", tls.ca_file,
                                                   "': ", TakeTlsErrors("not PEM certificates")));
  }
  if (!tls.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx.get()) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot load the TLS client certificate '", tls.cert_file, "' and key '",
                       tls.key_file, "': ", TakeTlsErrors("not a matching PEM pair")));
    }
  }
  SSL* ssl = SSL_new(ctx.get());
  std::unique_ptr<TlsConnection> connection(new TlsConnection(ctx, ssl, fd));
  SSL_set_fd(ssl, fd);
  // The name checked: an IP address against the certificate's IP entries,
  // anything else against its DNS names (and sent as SNI).
  in6_addr ip{};
  const bool numeric = inet_pton(AF_INET, server_name.c_str(), &ip) == 1 ||
                       inet_pton(AF_INET6, server_name.c_str(), &ip) == 1;
  if (numeric) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, server_name.c_str());
    SSL_set1_host(ssl, server_name.c_str());
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  for (;;) {
    ERR_clear_error();
    errno = 0;
    NoSigpipe no_sigpipe;
    const int rc = SSL_connect(ssl);
    if (rc == 1) return connection;
    const int want = SSL_get_error(ssl, rc);
    if (want == SSL_ERROR_WANT_READ || want == SSL_ERROR_WANT_WRITE) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::system_clock::now());
      if (left.count() <= 0) return absl::DeadlineExceededError("timed out in the TLS handshake");
      pollfd waiting{fd, static_cast<short>(want == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
      poll(&waiting, 1, static_cast<int>(left.count()));
      continue;
    }
    const long verified = SSL_get_verify_result(ssl);
    if (verified != X509_V_OK) {
      return absl::UnavailableError(absl::StrCat(
          "the server's TLS certificate is not trusted for '", server_name,
          "': ", X509_verify_cert_error_string(verified),
          tls.ca_file.empty() ? " (checked against the system's CAs)"
                              : absl::StrCat(" (checked against ", tls.ca_file, ")")));
    }
    std::string reason = TakeTlsErrors(
        want == SSL_ERROR_SYSCALL && errno != 0
            ? std::strerror(errno)
            : "the server closed the connection during the TLS handshake");
    return absl::UnavailableError(absl::StrCat("TLS handshake failed: ", Explain(reason)));
  }
}

TlsConnection::~TlsConnection() { SSL_free(ssl_); }

bool TlsConnection::Await(int want) {
  pollfd waiting{fd_, static_cast<short>(want == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN), 0};
  for (;;) {
    const int ready = poll(&waiting, 1, -1);
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
  }
}

ssize_t TlsConnection::Read(char* data, size_t size) {
  for (;;) {
    int want = 0;
    {
      MutexLock lock(&mu_);
      ERR_clear_error();
      errno = 0;
      NoSigpipe no_sigpipe;
      const int rc = SSL_read(ssl_, data, static_cast<int>(std::min<size_t>(size, INT_MAX)));
      if (rc > 0) return rc;
      want = SSL_get_error(ssl_, rc);
      if (want == SSL_ERROR_ZERO_RETURN || (want == SSL_ERROR_SYSCALL && errno == 0)) return 0;
      if (want != SSL_ERROR_WANT_READ && want != SSL_ERROR_WANT_WRITE) {
        error_ = Explain(TakeTlsErrors(errno != 0 ? std::strerror(errno) : "TLS failed"));
        return -1;
      }
    }
    if (!Await(want)) return -1;
  }
}

bool TlsConnection::Write(const char* data, size_t size) {
  size_t sent = 0;
  while (sent < size) {
    int want = 0;
    {
      MutexLock lock(&mu_);
      ERR_clear_error();
      errno = 0;
      NoSigpipe no_sigpipe;
      const int rc =
          SSL_write(ssl_, data + sent, static_cast<int>(std::min<size_t>(size - sent, INT_MAX)));
      if (rc > 0) {
        sent += static_cast<size_t>(rc);
        continue;
      }
      want = SSL_get_error(ssl_, rc);
      if (want != SSL_ERROR_WANT_READ && want != SSL_ERROR_WANT_WRITE) {
        error_ = Explain(TakeTlsErrors(errno != 0 ? std::strerror(errno) : "TLS failed"));
        return false;
      }
    }
    if (!Await(want)) return false;
  }
  return true;
}

bool TlsConnection::pending() {
  MutexLock lock(&mu_);
  return SSL_pending(ssl_) > 0;
}

std::string TlsConnection::error() {
  MutexLock lock(&mu_);
  return error_;
}

}  // namespace shoal::detail
