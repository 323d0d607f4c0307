#include "client/src/token.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "shared/incarnation.h"
#include "shoal/errors.h"

namespace shoal::detail {
namespace {

constexpr Kind kAllKinds[] = {
    Kind::kList,    Kind::kDict,      Kind::kNamespace,        Kind::kValue,     Kind::kLock,
    Kind::kRLock,   Kind::kSemaphore, Kind::kBoundedSemaphore, Kind::kCondition, Kind::kEvent,
    Kind::kBarrier, Kind::kQueue,     Kind::kJoinableQueue,    Kind::kConnection,
    Kind::kPipe,    Kind::kArray,     Kind::kPool,
};

[[noreturn]] void Malformed(const std::string& token, absl::string_view why) {
  throw ValueError(absl::StrCat("malformed token '", token, "': ", why));
}

}  // namespace

std::string FormatToken(Kind kind, uint64_t id, uint64_t incarnation) {
  return absl::StrCat(KindName(kind), ":", id, "@", FormatIncarnation(incarnation));
}

Token ParseToken(const std::string& token) {
  const size_t colon = token.find(':');
  const size_t at = token.rfind('@');
  if (colon == std::string::npos || at == std::string::npos || at < colon) {
    Malformed(token,
              "expected kind:id@incarnation, such as list:42@3f9a0c2e5b1d7a64, as "
              "proxy.token() gives (a token carries the incarnation of the server that made it, "
              "so that it never names another object after a restart)");
  }
  Token out;
  const absl::string_view text(token);
  const absl::string_view name = text.substr(0, colon);
  if (!absl::SimpleAtoi(text.substr(colon + 1, at - colon - 1), &out.id) || out.id == 0) {
    Malformed(token, "the id is not a positive number");
  }
  if (!ParseIncarnation(text.substr(at + 1), &out.incarnation)) {
    Malformed(token, "the server's incarnation after '@' is not 16 hex digits");
  }
  for (Kind candidate : kAllKinds) {
    if (name == KindName(candidate)) {
      out.kind = candidate;
      return out;
    }
  }
  Malformed(token, absl::StrCat("no object kind is called '", name, "'"));
}

}  // namespace shoal::detail
