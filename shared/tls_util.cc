#include "shared/tls_util.h"

#include <pthread.h>

#include <cerrno>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "openssl/err.h"

namespace shoal {

std::string TakeTlsErrors(const std::string& fallback) {
  std::string line;
  char text[256];
  while (const unsigned long code = ERR_get_error()) {
    ERR_error_string_n(code, text, sizeof(text));
    absl::StrAppend(&line, line.empty() ? "" : "; ", text);
  }
  return line.empty() ? fallback : line;
}

NoSigpipe::NoSigpipe() {
  sigemptyset(&pipe_);
  sigaddset(&pipe_, SIGPIPE);
  sigset_t pending;
  sigpending(&pending);
  was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
}

NoSigpipe::~NoSigpipe() {
  if (!was_pending_) {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) == 1) {
      const int saved = errno;
      timespec zero{0, 0};
      sigtimedwait(&pipe_, nullptr, &zero);
      errno = saved;
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

}  // namespace shoal
