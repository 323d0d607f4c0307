// A FrameReader turns the bytes of a framed stream (see framing.h: each
// message after its length, 4 bytes big-endian) back into whole frames. It
// owns one buffer: the caller reads into it (WriteSpace + Commit) or copies
// into it (Append), then takes every whole frame with Next. The buffer is
// compacted as frames are taken, and given back when it grew large, so a
// long stream costs the largest frame, not the bytes it carried.
//
// It does no I/O, so it serves a non-blocking event loop (read what the
// socket has, take what is whole) and a blocking reader (read until Next
// yields) alike. A frame longer than the limit is refused as soon as its
// header is read, before its bytes arrive: status() then says so and Next
// yields nothing more.
//
// Not thread-safe: one reader at a time.
#ifndef SHOAL_SHARED_FRAME_READER_H_
#define SHOAL_SHARED_FRAME_READER_H_

#include <cstddef>
#include <limits>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace shoal {

class FrameReader {
 public:
  // No limit on the size of a frame beyond what the 4-byte header can say.
  static constexpr size_t kNoLimit = std::numeric_limits<size_t>::max();

  // max_frame: the largest message accepted, header not counted.
  explicit FrameReader(size_t max_frame = kNoLimit) : max_frame_(max_frame) {}
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;

  // Room at the end of the buffer for at least min bytes, and for the rest of
  // the frame being read when its header says it is longer (up to 1 MiB at
  // a time): read into it, then Commit what was read. Invalidates the views
  // Next returned.
  absl::Span<char> WriteSpace(size_t min);
  // Counts n bytes written into the last WriteSpace as read.
  void Commit(size_t n);
  // Copies n bytes in: WriteSpace(n), memcpy, Commit(n).
  void Append(const char* data, size_t n);

  // The message of the next whole frame, without its header, or nullopt when
  // no whole frame is buffered yet, or the next is past the limit (status()
  // says so). A view stays valid until WriteSpace or Append.
  std::optional<absl::string_view> Next();

  // OK, or the LimitError of a frame past the limit; once not OK it stays so.
  const absl::Status& status() const { return status_; }
  // Bytes buffered and not yet taken by Next.
  size_t buffered() const { return end_ - begin_; }

 private:
  const size_t max_frame_;
  // The bytes read and not yet taken are buffer_[begin_, end_).
  std::string buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;
  // The length of the frame being read, header included, once its header is
  // buffered; 0 before.
  size_t needed_ = 0;
  absl::Status status_;
};

}  // namespace shoal

#endif  // SHOAL_SHARED_FRAME_READER_H_
