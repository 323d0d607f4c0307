// The session stream's frames (session.proto ClientFrame and ServerFrame)
// read and written in their wire form on the hot path of every call: a
// frame's calls and replies are views into the bytes read, and a reply is
// appended to the bytes written, with no protobuf message per call.
//
// The readers take what protobuf's parser takes and read it as the parser
// would (a repeated scalar packed or not, the last of a repeated singular
// field, strings checked for UTF-8), but only the fields and wire types the
// messages define: anything else (an unknown field, a field of the wrong
// wire type, a group) makes them return false, and the caller then parses
// the frame with protobuf, which decides, and views the message (ViewOf).
// So a frame is accepted, refused, and read exactly as the message parser
// would, whichever way it went.
//
// Plain functions and values; safe from any thread.
#ifndef SHOAL_SHARED_SESSION_FRAMES_H_
#define SHOAL_SHARED_SESSION_FRAMES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "shoal/v1/session.pb.h"

namespace shoal {

// One Call of a ClientFrame.
struct CallView {
  uint64_t call_id = 0;
  absl::string_view method;
  absl::string_view request;
};

// A ClientFrame's fields, as views into the bytes (or message) read. Cleared
// and reused frame after frame, so that its vectors keep their room.
struct ClientFrameView {
  std::vector<CallView> calls;
  std::vector<uint64_t> cancels;
  std::vector<uint64_t> acks;
  absl::string_view token;
  bool close = false;
  bool heartbeat = false;
  bool has_challenge = false;
  bool has_answer = false;

  void Clear() {
    calls.clear();
    cancels.clear();
    acks.clear();
    token = absl::string_view();
    close = heartbeat = has_challenge = has_answer = false;
  }
};

// Reads a serialized ClientFrame into *view (cleared first). False when the
// bytes hold anything but the frame's own fields in their own wire types, or
// are malformed: then parse them as a v1::ClientFrame.
bool ReadClientFrame(absl::string_view bytes, ClientFrameView* view);
// Views a parsed frame; the view points into frame.
void ViewOf(const v1::ClientFrame& frame, ClientFrameView* view);

// One Reply of a ServerFrame.
struct ReplyView {
  uint64_t call_id = 0;
  int32_t code = 0;
  absl::string_view response;
  absl::string_view error_kind;
  absl::string_view error_message;
};

// A ServerFrame's replies, as views; whether it has its other fields (the
// stream's end, a login step), which are read from a parsed message.
struct ServerFrameView {
  std::vector<ReplyView> replies;
  bool has_other = false;

  void Clear() {
    replies.clear();
    has_other = false;
  }
};

// Reads a serialized ServerFrame's replies into *view (cleared first). False
// when the bytes hold anything else, or are malformed: then parse them as a
// v1::ServerFrame. has_other is never set by this reader.
bool ReadServerFrame(absl::string_view bytes, ServerFrameView* view);
// Views a parsed frame's replies, and says whether it has other fields.
void ViewOf(const v1::ServerFrame& frame, ServerFrameView* view);

// Appends to out one reply of a ServerFrame (field 1): the call's response.
void AppendOkReply(uint64_t call_id, absl::string_view response, std::string* out);
// Appends to out one reply of a ServerFrame, the reply given.
void AppendReply(const v1::Reply& reply, std::string* out);

// Appends to out one call of a ClientFrame (field 1). Returns its size there.
size_t AppendCall(uint64_t call_id, absl::string_view method, absl::string_view request,
                  std::string* out);
// Appends to out a ClientFrame's acknowledgements (field 8, packed).
void AppendAcks(const std::vector<uint64_t>& acks, std::string* out);
// Appends to out a ClientFrame's flag field (close or heartbeat) set.
void AppendFlag(int number, std::string* out);

// Appends to out a frame: its length (framing.h) and body.
void AppendFramed(absl::string_view body, std::string* out);

}  // namespace shoal

#endif  // SHOAL_SHARED_SESSION_FRAMES_H_
