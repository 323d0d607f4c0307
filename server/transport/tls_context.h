// The server's TLS settings for the framed transport: the certificate, key
// and (for mutual TLS) client CA files given on the command line, loaded
// into an OpenSSL SSL_CTX. Files that change on disk are loaded again for
// the connections accepted after the change: Current looks at the files'
// modification times, sizes and inodes at most every kCheckEvery, and a new
// set that cannot be loaded (a certificate written before its key, say) is
// logged and the last good one kept.
//
// Thread-safe.
#ifndef SHOAL_SERVER_TRANSPORT_TLS_CONTEXT_H_
#define SHOAL_SERVER_TRANSPORT_TLS_CONTEXT_H_

#include <sys/stat.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "shared/mutex.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace shoal::server {

struct TlsFiles {
  // PEM files. cert_file and key_file are both given, or TLS is off.
  std::string cert_file;
  std::string key_file;
  // When given, clients must present a certificate this CA signed.
  std::string client_ca_file;

  bool enabled() const { return !cert_file.empty(); }
};

class TlsContext {
 public:
  static constexpr absl::Duration kCheckEvery = absl::Milliseconds(100);

  // Loads the files, or says which one could not be loaded and why.
  static absl::StatusOr<std::unique_ptr<TlsContext>> Load(const TlsFiles& files);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // The context for a connection accepted now: loaded again first when the
  // files changed. The connection's SSL keeps its own reference to it.
  std::shared_ptr<SSL_CTX> Current() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // What identifies one version of the files on disk.
  struct Stamp {
    struct stat cert {};
    struct stat key {};
    struct stat ca {};
    bool operator==(const Stamp& other) const;
  };

  explicit TlsContext(TlsFiles files) : files_(std::move(files)) {}
  Stamp Look() const;
  absl::StatusOr<std::shared_ptr<SSL_CTX>> Build() const;

  const TlsFiles files_;
  Mutex mu_;
  std::shared_ptr<SSL_CTX> current_ ABSL_GUARDED_BY(mu_);
  Stamp stamp_ ABSL_GUARDED_BY(mu_);
  absl::Time next_check_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};


}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_TLS_CONTEXT_H_
