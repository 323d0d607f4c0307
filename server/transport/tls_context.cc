#include "server/transport/tls_context.h"

#include "shared/tls_util.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

struct stat StatOf(const std::string& path) {
  struct stat found {};
  if (!path.empty()) stat(path.c_str(), &found);
  return found;
}

}  // namespace

bool TlsContext::Stamp::operator==(const Stamp& other) const {
  return SameFile(cert, other.cert) && SameFile(key, other.key) && SameFile(ca, other.ca);
}

absl::StatusOr<std::unique_ptr<TlsContext>> TlsContext::Load(const TlsFiles& files) {
  if (files.cert_file.empty() != files.key_file.empty()) {
    return error::ValueError("TLS needs both --tls-cert-file and --tls-key-file");
  }
  if (!files.client_ca_file.empty() && files.cert_file.empty()) {
    return error::ValueError("--tls-client-ca-file needs --tls-cert-file and --tls-key-file");
  }
  std::unique_ptr<TlsContext> context(new TlsContext(files));
  const Stamp stamp = context->Look();
  absl::StatusOr<std::shared_ptr<SSL_CTX>> built = context->Build();
  if (!built.ok()) return built.status();
  MutexLock lock(&context->mu_);
  context->current_ = *std::move(built);
  context->stamp_ = stamp;
  context->next_check_ = absl::Now() + kCheckEvery;
  return context;
}

TlsContext::~TlsContext() = default;

TlsContext::Stamp TlsContext::Look() const {
  Stamp stamp;
  stamp.cert = StatOf(files_.cert_file);
  stamp.key = StatOf(files_.key_file);
  stamp.ca = StatOf(files_.client_ca_file);
  return stamp;
}

absl::StatusOr<std::shared_ptr<SSL_CTX>> TlsContext::Build() const {
  ERR_clear_error();
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (ctx == nullptr) return error::ValueError(TakeTlsErrors("cannot make a TLS context"));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // Nothing is resumed: a ticket would only be one more message that a
  // client's first read has to get past.
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  // A client that goes without close_notify has simply gone.
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
  // Writes are retried from a buffer that may have moved (it grows as
  // replies are appended) and may go out in part.
  SSL_CTX_set_mode(ctx.get(),
                   SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), files_.cert_file.c_str()) != 1) {
    return error::ValueError(absl::StrCat("cannot load the TLS certificate ", files_.cert_file,
                                          ": ", TakeTlsErrors("not a PEM certificate")));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), files_.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return error::ValueError(absl::StrCat("cannot load the TLS key ", files_.key_file, ": ",
                                          TakeTlsErrors("not a PEM private key")));
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    return error::ValueError(absl::StrCat("the TLS key ", files_.key_file,
                                          " does not match the certificate ", files_.cert_file));
  }
  if (!files_.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), files_.client_ca_file.c_str(), nullptr) != 1) {
      return error::ValueError(absl::StrCat("cannot load the TLS client CA ",
                                            files_.client_ca_file, ": ",
                                            TakeTlsErrors("not a PEM certificate")));
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return ctx;
}

std::shared_ptr<SSL_CTX> TlsContext::Current() {
  MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  if (now < next_check_) return current_;
  next_check_ = now + kCheckEvery;
  const Stamp stamp = Look();
  if (stamp == stamp_) return current_;
  absl::StatusOr<std::shared_ptr<SSL_CTX>> built = Build();
  if (!built.ok()) {
    // Tried again at the next change: a pair of files is often written one
    // after the other.
    std::fprintf(stderr, "shoal-server: TLS files changed, keeping the last good ones: %s\n",
                 std::string(built.status().message()).c_str());
    stamp_ = stamp;
    return current_;
  }
  current_ = *std::move(built);
  stamp_ = stamp;
  std::fprintf(stderr, "shoal-server: TLS files changed, loaded again for new connections\n");
  return current_;
}

}  // namespace shoal::server
