// The framing of the session stream's framed transport: each message is
// preceded by its length in 4 bytes, big-endian.
#ifndef SHOAL_SHARED_FRAMING_H_
#define SHOAL_SHARED_FRAMING_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "google/protobuf/message_lite.h"

namespace shoal {

inline constexpr size_t kFrameHeaderBytes = 4;

// The length in the header at data (kFrameHeaderBytes bytes).
inline size_t ReadFrameHeader(const char* data) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data);
  return (size_t{bytes[0]} << 24) | (size_t{bytes[1]} << 16) | (size_t{bytes[2]} << 8) |
         size_t{bytes[3]};
}

// Appends message, after its header, to out.
inline void AppendFrame(const google::protobuf::MessageLite& message, std::string* out) {
  const size_t size = message.ByteSizeLong();
  const size_t at = out->size();
  out->resize(at + kFrameHeaderBytes + size);
  auto* bytes = reinterpret_cast<uint8_t*>(out->data() + at);
  bytes[0] = static_cast<uint8_t>(size >> 24);
  bytes[1] = static_cast<uint8_t>(size >> 16);
  bytes[2] = static_cast<uint8_t>(size >> 8);
  bytes[3] = static_cast<uint8_t>(size);
  message.SerializeWithCachedSizesToArray(bytes + kFrameHeaderBytes);
}

}  // namespace shoal

#endif  // SHOAL_SHARED_FRAMING_H_
