#include "shared/frame_reader.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"
#include "shared/framing.h"

namespace shoal {
namespace {

// A buffer past this size is given back once it holds nothing.
constexpr size_t kKeepBuffer = 1 << 20;

}  // namespace

absl::Span<char> FrameReader::WriteSpace(size_t min) {
  if (begin_ == end_) {
    begin_ = end_ = 0;
    if (buffer_.capacity() > kKeepBuffer) std::string().swap(buffer_);
  } else if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  // Only min more than what is buffered: what a header announces is not
  // trusted with memory before its bytes arrive. The capacity grows
  // geometrically, so that a large frame read min bytes at a time is not
  // copied once per read; resize then fills (and touches) only what was asked.
  const size_t wanted = end_ + min;
  if (buffer_.size() < wanted) {
    if (buffer_.capacity() < wanted) buffer_.reserve(std::max(wanted, 2 * buffer_.capacity()));
    buffer_.resize(wanted);
  }
  return absl::Span<char>(buffer_.data() + end_, buffer_.size() - end_);
}

void FrameReader::Commit(size_t n) { end_ = std::min(end_ + n, buffer_.size()); }

void FrameReader::Append(const char* data, size_t n) {
  absl::Span<char> space = WriteSpace(n);
  std::memcpy(space.data(), data, n);
  Commit(n);
}

std::optional<absl::string_view> FrameReader::Next() {
  if (!status_.ok()) return std::nullopt;
  const size_t have = end_ - begin_;
  if (have < kFrameHeaderBytes) return std::nullopt;
  const size_t size = ReadFrameHeader(buffer_.data() + begin_);
  if (size > max_frame_) {
    status_ = error::LimitError(absl::StrCat("a frame of ", size,
                                             " bytes is past the message limit of ", max_frame_));
    return std::nullopt;
  }
  if (have < kFrameHeaderBytes + size) return std::nullopt;
  const absl::string_view message(buffer_.data() + begin_ + kFrameHeaderBytes, size);
  begin_ += kFrameHeaderBytes + size;
  return message;
}

}  // namespace shoal
