#include "shared/session_frames.h"

#include <cstring>

#include "shared/framing.h"
#include "shared/packed_values.h"
#include "shared/utf8.h"

namespace shoal {
namespace {

bool Utf8(absl::string_view s) { return IsValidUtf8(std::string_view(s.data(), s.size())); }

// A repeated uint64 field's occurrence, packed (a run of varints) or not.
bool ReadUint64s(uint32_t type, absl::string_view bytes, uint64_t scalar,
                 std::vector<uint64_t>* out) {
  if (type == kWireVarint) {
    out->push_back(scalar);
    return true;
  }
  if (type != kWireLengthDelimited) return false;
  WireReader in(bytes);
  while (!in.done()) {
    uint64_t v = 0;
    if (!in.Varint(&v)) return false;
    out->push_back(v);
  }
  return true;
}

// Calls take(number, type, bytes, scalar) for each field of a message; false
// when the message is malformed or take refuses a field.
template <typename Take>
bool ForEachField(absl::string_view message, Take take) {
  WireReader in(message);
  while (!in.done()) {
    uint32_t number = 0, type = 0;
    absl::string_view part;
    uint64_t scalar = 0;
    if (!in.Field(&number, &type, &part, &scalar) || !take(number, type, part, scalar)) {
      return false;
    }
  }
  return true;
}

bool ReadCall(absl::string_view bytes, CallView* call) {
  return ForEachField(bytes, [call](uint32_t number, uint32_t type, absl::string_view part,
                                    uint64_t scalar) {
    if (number == 1 && type == kWireVarint) {
      call->call_id = scalar;
    } else if (number == 2 && type == kWireLengthDelimited && Utf8(part)) {
      call->method = part;
    } else if (number == 3 && type == kWireLengthDelimited) {
      call->request = part;
    } else {
      return false;
    }
    return true;
  });
}

bool ReadReply(absl::string_view bytes, ReplyView* reply) {
  return ForEachField(bytes, [reply](uint32_t number, uint32_t type, absl::string_view part,
                                     uint64_t scalar) {
    if (number == 1 && type == kWireVarint) {
      reply->call_id = scalar;
    } else if (number == 2 && type == kWireLengthDelimited) {
      reply->response = part;
    } else if (number == 3 && type == kWireVarint) {
      reply->code = static_cast<int32_t>(static_cast<uint32_t>(scalar));
    } else if ((number == 4 || number == 5) && type == kWireLengthDelimited && Utf8(part)) {
      (number == 4 ? reply->error_kind : reply->error_message) = part;
    } else {
      return false;
    }
    return true;
  });
}

// The bytes of a call or a reply in a frame whose body takes size bytes:
// the entry's tag (field 1) and size, then the body.
size_t EntryBytes(size_t size) { return 1 + VarintSize(size) + size; }

// The bytes of a length-delimited field of a small number (one byte of tag).
size_t FieldBytes(absl::string_view bytes) { return 1 + VarintSize(bytes.size()) + bytes.size(); }

// An entry of a frame (a call or a reply), written field by field into a
// buffer on the stack and appended to the frame with one append: a call's
// fields are small, and an append per field costs more than its bytes.
// A field too big for the buffer is appended by itself, after what the
// buffer holds. The head (22 bytes at most) and each field's tag and size
// (kHeadRoom) always fit.
class EntryWriter {
 public:
  // Starts the entry, whose body takes size bytes, with its call id (field
  // 1 inside).
  EntryWriter(size_t size, uint64_t call_id, std::string* out) : out_(out) {
    *end_++ = WireTag(1, kWireLengthDelimited);
    end_ = PutVarint(size, end_);
    *end_++ = WireTag(1, kWireVarint);
    end_ = PutVarint(call_id, end_);
  }
  EntryWriter(const EntryWriter&) = delete;
  EntryWriter& operator=(const EntryWriter&) = delete;
  // Appends what the buffer holds: the entry is whole.
  void Finish() { out_->append(buffer_, end_ - buffer_); }

  // Writes a length-delimited field of a small number.
  void Field(uint32_t number, absl::string_view bytes) {
    *end_++ = WireTag(static_cast<int>(number), kWireLengthDelimited);
    end_ = PutVarint(bytes.size(), end_);
    // What stays in the buffer leaves room for the next field's head.
    if (bytes.size() + kHeadRoom > static_cast<size_t>(buffer_ + sizeof buffer_ - end_)) {
      out_->append(buffer_, end_ - buffer_);
      out_->append(bytes.data(), bytes.size());
      end_ = buffer_;
      return;
    }
    if (!bytes.empty()) std::memcpy(end_, bytes.data(), bytes.size());
    end_ += bytes.size();
  }

 private:
  // Room kept for one more field's tag and size.
  static constexpr size_t kHeadRoom = 1 + kMaxVarintBytes;
  std::string* const out_;
  char buffer_[256];
  char* end_ = buffer_;
};

}  // namespace

bool ReadClientFrame(absl::string_view bytes, ClientFrameView* view) {
  view->Clear();
  return ForEachField(bytes, [view](uint32_t number, uint32_t type, absl::string_view part,
                                    uint64_t scalar) {
    switch (number) {
      case 1:
        if (type != kWireLengthDelimited) return false;
        view->calls.emplace_back();
        return ReadCall(part, &view->calls.back());
      case 2:
        return ReadUint64s(type, part, scalar, &view->cancels);
      case 3:
        if (type != kWireLengthDelimited || !Utf8(part)) return false;
        view->token = part;
        return true;
      case 4:
        if (type != kWireVarint) return false;
        view->close = scalar != 0;
        return true;
      case 7:
        if (type != kWireVarint) return false;
        view->heartbeat = scalar != 0;
        return true;
      case 8:
        return ReadUint64s(type, part, scalar, &view->acks);
      default:
        // The login's messages (5, 6) and anything unknown: the parser's.
        return false;
    }
  });
}

void ViewOf(const v1::ClientFrame& frame, ClientFrameView* view) {
  view->Clear();
  view->calls.reserve(static_cast<size_t>(frame.calls_size()));
  for (const v1::Call& call : frame.calls()) {
    view->calls.push_back(CallView{call.call_id(), call.method(), call.request()});
  }
  view->cancels.assign(frame.cancels().begin(), frame.cancels().end());
  view->acks.assign(frame.acks().begin(), frame.acks().end());
  view->token = frame.token();
  view->close = frame.close();
  view->heartbeat = frame.heartbeat();
  view->has_challenge = frame.has_challenge();
  view->has_answer = frame.has_answer();
}

bool ReadServerFrame(absl::string_view bytes, ServerFrameView* view) {
  view->Clear();
  return ForEachField(bytes, [view](uint32_t number, uint32_t type, absl::string_view part,
                                    uint64_t) {
    if (number != 1 || type != kWireLengthDelimited) return false;
    view->replies.emplace_back();
    return ReadReply(part, &view->replies.back());
  });
}

void ViewOf(const v1::ServerFrame& frame, ServerFrameView* view) {
  view->Clear();
  view->replies.reserve(static_cast<size_t>(frame.replies_size()));
  for (const v1::Reply& reply : frame.replies()) {
    view->replies.push_back(ReplyView{reply.call_id(), reply.code(), reply.response(),
                                      reply.error_kind(), reply.error_message()});
  }
  view->has_other = frame.has_end() || frame.has_challenge() || frame.has_answer();
}

void AppendOkReply(uint64_t call_id, absl::string_view response, std::string* out) {
  size_t size = 1 + VarintSize(call_id);
  if (!response.empty()) size += FieldBytes(response);
  EntryWriter entry(size, call_id, out);
  if (!response.empty()) entry.Field(2, response);
  entry.Finish();
}

void AppendReply(const v1::Reply& reply, std::string* out) {
  out->push_back(WireTag(1, kWireLengthDelimited));
  AppendVarint(reply.ByteSizeLong(), out);
  reply.AppendToString(out);
}

size_t AppendCall(uint64_t call_id, absl::string_view method, absl::string_view request,
                  std::string* out) {
  size_t size = 1 + VarintSize(call_id) + FieldBytes(method);
  if (!request.empty()) size += FieldBytes(request);
  EntryWriter entry(size, call_id, out);
  entry.Field(2, method);
  if (!request.empty()) entry.Field(3, request);
  entry.Finish();
  return EntryBytes(size);
}

void AppendAcks(const std::vector<uint64_t>& acks, std::string* out) {
  if (acks.empty()) return;
  size_t size = 0;
  for (uint64_t ack : acks) size += VarintSize(ack);
  out->push_back(WireTag(8, kWireLengthDelimited));
  AppendVarint(size, out);
  for (uint64_t ack : acks) AppendVarint(ack, out);
}

void AppendFlag(int number, std::string* out) {
  out->push_back(WireTag(number, kWireVarint));
  out->push_back('\x01');
}

void AppendFramed(absl::string_view body, std::string* out) {
  const size_t size = body.size();
  const char header[kFrameHeaderBytes] = {
      static_cast<char>(size >> 24), static_cast<char>(size >> 16), static_cast<char>(size >> 8),
      static_cast<char>(size)};
  out->append(header, kFrameHeaderBytes);
  out->append(body.data(), body.size());
}

}  // namespace shoal
