// The frame reader (shared/frame_reader.h) on a hostile byte stream, used as
// each side uses it: the server's event loop reads into WriteSpace and
// Commits what the socket gave, with the server's frame limit; the client's
// blocking reader copies what it received in with Append, with no limit. The
// stream arrives in chunks whose sizes the input chooses. Every frame the
// reader yields, and where it refuses one, is checked against a plain model
// of the framing (shared/framing.h) over all the bytes so far.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "shared/frame_reader.h"
#include "shared/framing.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "frame_reader_fuzz: %s\n", what);
  std::abort();
}

// The frames in stream from position at, as the framing defines them.
class Model {
 public:
  explicit Model(size_t max_frame) : max_frame_(max_frame) {}

  void Add(const char* data, size_t n) { stream_.append(data, n); }

  // Takes every frame the reader yields now and checks it against the
  // model's next one; then checks that the reader stopped where the model
  // stops, and why.
  void Check(shoal::FrameReader& reader) {
    while (std::optional<absl::string_view> message = reader.Next()) {
      if (refused_) Fail("a frame yielded after the limit refused one");
      if (stream_.size() - at_ < shoal::kFrameHeaderBytes) Fail("a frame without its header");
      const size_t size = shoal::ReadFrameHeader(stream_.data() + at_);
      if (size > max_frame_) Fail("a frame past the limit was yielded");
      if (stream_.size() - at_ - shoal::kFrameHeaderBytes < size) Fail("a partial frame");
      if (*message != absl::string_view(stream_).substr(at_ + shoal::kFrameHeaderBytes, size)) {
        Fail("a frame's bytes differ from the stream's");
      }
      at_ += shoal::kFrameHeaderBytes + size;
    }
    // The reader yields nothing more: the model must agree.
    if (!refused_ && stream_.size() - at_ >= shoal::kFrameHeaderBytes) {
      const size_t size = shoal::ReadFrameHeader(stream_.data() + at_);
      if (size > max_frame_) {
        refused_ = true;
      } else if (stream_.size() - at_ - shoal::kFrameHeaderBytes >= size) {
        Fail("a whole frame was not yielded");
      }
    }
    if (refused_ != !reader.status().ok()) Fail("the reader's status disagrees with the limit");
    if (!refused_ && reader.buffered() != stream_.size() - at_) Fail("buffered() is wrong");
  }

 private:
  const size_t max_frame_;
  std::string stream_;
  size_t at_ = 0;
  bool refused_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  const bool server = input.ConsumeBool();
  // The server's limit is its --max_message_bytes (16 MiB by default); small
  // limits reach the refusal with small inputs.
  constexpr size_t kServerLimits[] = {0, 1, 5, 64, 1000, 16 << 20};
  const size_t max_frame = server ? input.PickValueInArray(kServerLimits)
                                  : shoal::FrameReader::kNoLimit;
  // The server asks for kReadChunk (64 KiB) each time; other sizes test the
  // contract.
  constexpr size_t kMinRoom[] = {1, 3, 4, 100, 64 << 10};
  shoal::FrameReader reader(max_frame);
  Model model(max_frame);
  while (input.remaining_bytes() > 0) {
    const size_t chunk = input.ConsumeIntegralInRange<size_t>(0, 64);
    const std::string bytes = input.ConsumeBytesAsString(chunk);
    if (server) {
      const size_t min = input.PickValueInArray(kMinRoom);
      absl::Span<char> space = reader.WriteSpace(min);
      if (space.size() < min) Fail("WriteSpace gave less room than asked");
      // A read fills at most the room it was given.
      const size_t n = std::min(bytes.size(), space.size());
      std::memcpy(space.data(), bytes.data(), n);
      reader.Commit(n);
      model.Add(bytes.data(), n);
    } else {
      reader.Append(bytes.data(), bytes.size());
      model.Add(bytes.data(), bytes.size());
    }
    model.Check(reader);
  }
  return 0;
}
