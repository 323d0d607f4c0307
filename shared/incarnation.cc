#include "shared/incarnation.h"

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "shared/hmac.h"

namespace shoal {

namespace {
constexpr size_t kDigits = 16;
}  // namespace

uint64_t NewIncarnation() {
  // 0 is kept for "not given" on the wire; a draw of 0 (one in 2^64) is
  // drawn again.
  for (;;) {
    const std::string bytes = RandomBytes(sizeof(uint64_t));
    uint64_t incarnation = 0;
    std::memcpy(&incarnation, bytes.data(), sizeof incarnation);
    if (incarnation != 0) return incarnation;
  }
}

std::string FormatIncarnation(uint64_t incarnation) {
  return absl::StrFormat("%016x", incarnation);
}

bool ParseIncarnation(absl::string_view text, uint64_t* incarnation) {
  if (text.size() != kDigits) return false;
  uint64_t value = 0;
  for (char c : text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
    const int digit = absl::ascii_isdigit(static_cast<unsigned char>(c))
                          ? c - '0'
                          : absl::ascii_tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    value = (value << 4) | static_cast<uint64_t>(digit);
  }
  *incarnation = value;
  return true;
}

}  // namespace shoal
