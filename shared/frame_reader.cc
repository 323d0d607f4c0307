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
// The most room made at once for the rest of a frame: the buffer grows
// with the bytes that arrive, not with what a header announces, so four
// bytes cannot make the reader allocate a whole (up to 4 GiB) frame.
constexpr size_t kMostAhead = 1 << 20;

}  // namespace

absl::Span<char> FrameReader::WriteSpace(size_t min) {
  if (begin_ == end_) {
    begin_ = end_ = 0;
    if (buffer_.size() > kKeepBuffer) std::string().swap(buffer_);
  } else if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  const size_t rest_of_frame = needed_ > end_ ? std::min(needed_ - end_, kMostAhead) : 0;
  const size_t room = std::max(min, rest_of_frame);
  if (buffer_.size() < end_ + room) buffer_.resize(end_ + room);
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
  if (have < kFrameHeaderBytes + size) {
    needed_ = kFrameHeaderBytes + size;
    return std::nullopt;
  }
  const absl::string_view message(buffer_.data() + begin_ + kFrameHeaderBytes, size);
  begin_ += kFrameHeaderBytes + size;
  needed_ = 0;
  return message;
}

}  // namespace shoal
