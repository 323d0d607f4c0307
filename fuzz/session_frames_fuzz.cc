// The session frames read in place (shared/session_frames.h) against
// protobuf's parser, on hostile bytes: whatever the in-place readers take,
// the parser must take too and read the same way (every call, reply, id,
// string and flag); and what the writers write must parse back to what was
// written. The readers may leave a frame to the parser, never disagree
// with it.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "shared/session_frames.h"
#include "shoal/v1/session.pb.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "session_frames_fuzz: %s\n", what);
  std::abort();
}

bool SameClientFrames(const shoal::ClientFrameView& a, const shoal::ClientFrameView& b) {
  if (a.calls.size() != b.calls.size()) return false;
  for (size_t i = 0; i < a.calls.size(); ++i) {
    if (a.calls[i].call_id != b.calls[i].call_id || a.calls[i].method != b.calls[i].method ||
        a.calls[i].request != b.calls[i].request) {
      return false;
    }
  }
  return a.cancels == b.cancels && a.acks == b.acks && a.token == b.token &&
         a.close == b.close && a.heartbeat == b.heartbeat &&
         a.has_challenge == b.has_challenge && a.has_answer == b.has_answer;
}

bool SameServerFrames(const shoal::ServerFrameView& a, const shoal::ServerFrameView& b) {
  if (a.replies.size() != b.replies.size() || a.has_other != b.has_other) return false;
  for (size_t i = 0; i < a.replies.size(); ++i) {
    const shoal::ReplyView& x = a.replies[i];
    const shoal::ReplyView& y = b.replies[i];
    if (x.call_id != y.call_id || x.code != y.code || x.response != y.response ||
        x.error_kind != y.error_kind || x.error_message != y.error_message) {
      return false;
    }
  }
  return true;
}

void CheckClientFrame(const std::string& bytes) {
  shoal::ClientFrameView quick;
  if (!shoal::ReadClientFrame(bytes, &quick)) return;
  shoal::v1::ClientFrame parsed;
  if (!parsed.ParseFromString(bytes)) Fail("a ClientFrame read in place that protobuf refuses");
  shoal::ClientFrameView viewed;
  shoal::ViewOf(parsed, &viewed);
  if (!SameClientFrames(quick, viewed)) Fail("a ClientFrame read in place differently");

  // Written again by the writers: the same frame to protobuf.
  std::string written;
  for (const shoal::CallView& call : quick.calls) {
    shoal::AppendCall(call.call_id, call.method, call.request, &written);
  }
  shoal::AppendAcks(quick.acks, &written);
  if (quick.heartbeat) shoal::AppendFlag(shoal::v1::ClientFrame::kHeartbeatFieldNumber, &written);
  if (quick.close) shoal::AppendFlag(shoal::v1::ClientFrame::kCloseFieldNumber, &written);
  shoal::v1::ClientFrame again;
  if (!again.ParseFromString(written)) Fail("written calls that protobuf refuses");
  if (again.calls_size() != parsed.calls_size() || again.acks_size() != parsed.acks_size() ||
      again.heartbeat() != parsed.heartbeat() || again.close() != parsed.close()) {
    Fail("written calls that protobuf reads differently");
  }
  for (int i = 0; i < again.calls_size(); ++i) {
    if (again.calls(i).call_id() != parsed.calls(i).call_id() ||
        again.calls(i).method() != parsed.calls(i).method() ||
        again.calls(i).request() != parsed.calls(i).request()) {
      Fail("a written call that protobuf reads differently");
    }
  }
}

void CheckServerFrame(const std::string& bytes) {
  shoal::ServerFrameView quick;
  if (!shoal::ReadServerFrame(bytes, &quick)) return;
  shoal::v1::ServerFrame parsed;
  if (!parsed.ParseFromString(bytes)) Fail("a ServerFrame read in place that protobuf refuses");
  shoal::ServerFrameView viewed;
  shoal::ViewOf(parsed, &viewed);
  if (!SameServerFrames(quick, viewed)) Fail("a ServerFrame read in place differently");

  std::string written;
  for (const shoal::ReplyView& reply : quick.replies) {
    if (reply.code == 0 && reply.error_kind.empty() && reply.error_message.empty()) {
      shoal::AppendOkReply(reply.call_id, reply.response, &written);
    } else {
      shoal::v1::Reply message;
      message.set_call_id(reply.call_id);
      message.set_response(std::string(reply.response));
      message.set_code(reply.code);
      message.set_error_kind(std::string(reply.error_kind));
      message.set_error_message(std::string(reply.error_message));
      shoal::AppendReply(message, &written);
    }
  }
  shoal::ServerFrameView reread;
  if (!shoal::ReadServerFrame(written, &reread) || !SameServerFrames(quick, reread)) {
    Fail("written replies read back differently");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  CheckClientFrame(bytes);
  CheckServerFrame(bytes);
  return 0;
}
