#include "server/transport/stream_errors.h"

#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"

namespace shoal::server {

std::string ErrorLine(const absl::Status& status) {
  if (status.ok()) return std::string();
  const absl::string_view kind = ErrorKindName(ErrorKindOf(status));
  if (status.message().empty()) return std::string(kind);
  return absl::StrCat(kind, ": ", status.message());
}

void FillReplyError(const absl::Status& status, v1::Reply* reply) {
  reply->set_code(static_cast<int>(status.code()));
  reply->set_error_kind(std::string(ErrorKindName(ErrorKindOf(status))));
  reply->set_error_message(std::string(status.message()));
}

void FillStreamEnd(const absl::Status& status, v1::StreamEnd* end) {
  end->set_code(static_cast<int>(status.code()));
  end->set_message(ErrorLine(status));
}

}  // namespace shoal::server
