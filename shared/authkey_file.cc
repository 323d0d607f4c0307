#include "shared/authkey_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"
#include "shared/hmac.h"

namespace shoal {
namespace {

constexpr size_t kGeneratedKeyBytes = 32;

// Closes a descriptor on every return path.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Closes now, reporting the error close() gives (a deferred write error).
  int Close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

std::string ErrnoText(int err) { return std::strerror(err); }

bool IsTrailingSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

absl::Status WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(ErrnoText(errno));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

std::string ToLowerHex(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) {
    unsigned char c = static_cast<unsigned char>(ch);
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> ReadAuthKeyFile(const std::string& path) {
  // O_NONBLOCK keeps a FIFO at path from hanging the open; it is refused
  // below as not a regular file, and reads of a regular file ignore the flag.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) {
      return error::ValueError(absl::StrCat("authkey file ", path, " does not exist"));
    }
    return error::ValueError(
        absl::StrCat("cannot open authkey file ", path, ": ", ErrnoText(err)));
  }
  FdCloser closer(fd);
  // Check the open file rather than the path, so the file checked is the
  // file read.
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return error::ValueError(
        absl::StrCat("cannot stat authkey file ", path, ": ", ErrnoText(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return error::ValueError(absl::StrCat("authkey file ", path, " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return error::ValueError(absl::StrCat("authkey file ", path, " has mode ", mode,
                                          ", which lets group or others use it; run: chmod 600 ",
                                          path));
  }
  std::string contents;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return error::ValueError(
          absl::StrCat("cannot read authkey file ", path, ": ", ErrnoText(errno)));
    }
    if (n == 0) break;
    contents.append(buf, static_cast<size_t>(n));
  }
  while (!contents.empty() && IsTrailingSpace(contents.back())) contents.pop_back();
  if (contents.empty()) {
    return error::ValueError(absl::StrCat("authkey file ", path, " holds no key"));
  }
  return contents;
}

absl::StatusOr<std::string> GenerateAuthKeyFile(const std::string& path) {
  // O_EXCL never replaces an existing file, nor follows a symlink planted at
  // path, so the key cannot be written somewhere an attacker chose.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    if (err == EEXIST) {
      return error::ValueError(
          absl::StrCat("authkey file ", path, " already exists; not replacing it"));
    }
    return error::ValueError(
        absl::StrCat("cannot create authkey file ", path, ": ", ErrnoText(err)));
  }
  FdCloser closer(fd);
  std::string key = ToLowerHex(RandomBytes(kGeneratedKeyBytes));
  // The umask can only narrow 0600, but set it exactly so the mode does not
  // depend on the caller's umask.
  absl::Status status;
  if (::fchmod(fd, 0600) != 0) status = absl::InternalError(ErrnoText(errno));
  if (status.ok()) status = WriteAll(fd, key + "\n");
  if (status.ok() && ::fsync(fd) != 0) status = absl::InternalError(ErrnoText(errno));
  if (status.ok() && closer.Close() != 0) status = absl::InternalError(ErrnoText(errno));
  if (!status.ok()) {
    // The file is ours (O_EXCL); a half-written key must not be left behind
    // for a later run to read.
    ::unlink(path.c_str());
    return error::ValueError(
        absl::StrCat("cannot write authkey file ", path, ": ", status.message()));
  }
  return key;
}

}  // namespace shoal
