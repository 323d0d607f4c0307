#include "shared/session_frames.h"

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

// The head of a call or a reply in a frame: the entry's tag (field 1) and
// size, then its call id (field 1 inside), in one append.
void AppendEntryHead(size_t size, uint64_t call_id, std::string* out) {
  char head[2 + 2 * kMaxVarintBytes];
  char* end = head;
  *end++ = WireTag(1, kWireLengthDelimited);
  end = PutVarint(size, end);
  *end++ = WireTag(1, kWireVarint);
  end = PutVarint(call_id, end);
  out->append(head, end - head);
}

void AppendField(uint32_t number, absl::string_view bytes, std::string* out) {
  char head[2 * kMaxVarintBytes];
  char* end = PutVarint((number << 3) | kWireLengthDelimited, head);
  end = PutVarint(bytes.size(), end);
  out->append(head, end - head);
  out->append(bytes.data(), bytes.size());
}

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
  if (!response.empty()) size += 1 + VarintSize(response.size()) + response.size();
  AppendEntryHead(size, call_id, out);
  if (!response.empty()) AppendField(2, response, out);
}

void AppendReply(const v1::Reply& reply, std::string* out) {
  out->push_back(WireTag(1, kWireLengthDelimited));
  AppendVarint(reply.ByteSizeLong(), out);
  reply.AppendToString(out);
}

size_t AppendCall(uint64_t call_id, absl::string_view method, absl::string_view request,
                  std::string* out) {
  const size_t at = out->size();
  size_t size = 1 + VarintSize(call_id) + 1 + VarintSize(method.size()) + method.size();
  if (!request.empty()) size += 1 + VarintSize(request.size()) + request.size();
  out->reserve(at + size + 1 + VarintSize(size));
  AppendEntryHead(size, call_id, out);
  AppendField(2, method, out);
  if (!request.empty()) AppendField(3, request, out);
  return out->size() - at;
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
