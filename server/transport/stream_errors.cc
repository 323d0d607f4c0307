#include "server/transport/stream_errors.h"

#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"
#include "shared/utf8.h"

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
  // A string field must hold UTF-8, or the frame would not parse: a message
  // that quotes bytes it was given keeps its ASCII and marks the rest.
  std::string message(status.message());
  if (!IsValidUtf8(message)) {
    for (char& c : message) {
      if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    }
  }
  reply->set_error_message(std::move(message));
}

void FillStreamEnd(const absl::Status& status, v1::StreamEnd* end) {
  end->set_code(static_cast<int>(status.code()));
  end->set_message(ErrorLine(status));
}

}  // namespace shoal::server
