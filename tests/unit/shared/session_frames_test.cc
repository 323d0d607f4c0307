#include "shared/session_frames.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "shoal/v1/session.pb.h"

namespace shoal {
namespace {

// A frame of every field the reader takes, as a client writes it.
v1::ClientFrame AFrame() {
  v1::ClientFrame frame;
  for (uint64_t id : {uint64_t{1}, uint64_t{2}, uint64_t{1} << 40}) {
    v1::Call* call = frame.add_calls();
    call->set_call_id(id);
    call->set_method("/shoal.v1.DictService/Get");
    call->set_request(std::string("\x08\x01\x1a\x03\x3a\x01k\0", 8));
  }
  frame.add_cancels(9);
  frame.add_acks(3);
  frame.add_acks(uint64_t{1} << 33);
  frame.set_heartbeat(true);
  frame.set_close(true);
  return frame;
}

TEST(SessionFramesTest, AClientFrameIsReadInPlaceAsProtobufReadsIt) {
  const v1::ClientFrame frame = AFrame();
  const std::string bytes = frame.SerializeAsString();
  ClientFrameView quick;
  ASSERT_TRUE(ReadClientFrame(bytes, &quick));
  ASSERT_EQ(quick.calls.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(quick.calls[i].call_id, frame.calls(i).call_id());
    EXPECT_EQ(quick.calls[i].method, frame.calls(i).method());
    EXPECT_EQ(quick.calls[i].request, frame.calls(i).request());
  }
  EXPECT_EQ(quick.cancels, std::vector<uint64_t>({9}));
  EXPECT_EQ(quick.acks, std::vector<uint64_t>({3, uint64_t{1} << 33}));
  EXPECT_TRUE(quick.heartbeat);
  EXPECT_TRUE(quick.close);
  EXPECT_FALSE(quick.has_challenge);
  // The views point into the bytes read, not into copies.
  EXPECT_GE(quick.calls[0].method.data(), bytes.data());
  EXPECT_LT(quick.calls[0].method.data(), bytes.data() + bytes.size());
}

TEST(SessionFramesTest, IdsArriveUnpackedOrPacked) {
  // Field 8 (acks) as two varints, field 2 (cancels) packed.
  const std::string bytes("\x40\x05\x40\x06\x12\x02\x07\x08", 8);
  ClientFrameView quick;
  ASSERT_TRUE(ReadClientFrame(bytes, &quick));
  EXPECT_EQ(quick.acks, std::vector<uint64_t>({5, 6}));
  EXPECT_EQ(quick.cancels, std::vector<uint64_t>({7, 8}));
  v1::ClientFrame parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_EQ(parsed.acks_size(), 2);
}

TEST(SessionFramesTest, WhatTheReaderDoesNotKnowIsLeftToTheParser) {
  ClientFrameView quick;
  // An unknown field (15, varint): protobuf keeps it, the reader declines.
  std::string unknown = AFrame().SerializeAsString() + std::string("\x78\x01", 2);
  EXPECT_FALSE(ReadClientFrame(unknown, &quick));
  v1::ClientFrame parsed;
  EXPECT_TRUE(parsed.ParseFromString(unknown));
  // A login message.
  v1::ClientFrame login;
  login.mutable_challenge()->set_client_nonce("n");
  EXPECT_FALSE(ReadClientFrame(login.SerializeAsString(), &quick));
  // A method that is not UTF-8, which protobuf refuses as well.
  std::string bad_method = "\xff\xfe";
  std::string frame;
  AppendCall(1, bad_method, "", &frame);
  EXPECT_FALSE(ReadClientFrame(frame, &quick));
  EXPECT_FALSE(parsed.ParseFromString(frame));
  // Truncated.
  const std::string whole = AFrame().SerializeAsString();
  EXPECT_FALSE(ReadClientFrame(whole.substr(0, whole.size() / 2), &quick));
}

// protobuf's parser refuses a tag or a length written in more than 5
// bytes, however small its value: so does the quick reader.
TEST(SessionFramesTest, OverlongTagsAndLengthsAreRefusedAsProtobufRefusesThem) {
  // Field 1 (calls), length-delimited, its tag in 6 bytes; an empty call.
  const std::string long_tag("\x8a\x80\x80\x80\x80\x00\x00", 7);
  // The same with its length in 6 bytes.
  const std::string long_length("\x0a\x80\x80\x80\x80\x80\x00", 7);
  ClientFrameView quick;
  v1::ClientFrame parsed;
  for (const std::string& bytes : {long_tag, long_length}) {
    EXPECT_FALSE(ReadClientFrame(bytes, &quick));
    EXPECT_FALSE(parsed.ParseFromString(bytes));
  }
  // Five bytes are taken by both.
  const std::string five("\x8a\x80\x80\x80\x00\x00", 6);
  EXPECT_TRUE(ReadClientFrame(five, &quick));
  EXPECT_TRUE(parsed.ParseFromString(five));
}

TEST(SessionFramesTest, ViewOfAParsedFrameMatchesTheReader) {
  const v1::ClientFrame frame = AFrame();
  ClientFrameView quick, viewed;
  ASSERT_TRUE(ReadClientFrame(frame.SerializeAsString(), &quick));
  ViewOf(frame, &viewed);
  ASSERT_EQ(viewed.calls.size(), quick.calls.size());
  EXPECT_EQ(viewed.calls[2].call_id, quick.calls[2].call_id);
  EXPECT_EQ(viewed.acks, quick.acks);
  EXPECT_EQ(viewed.close, quick.close);
}

TEST(SessionFramesTest, WrittenCallsAndAcksParseAsAClientFrame) {
  std::string body;
  const size_t first = AppendCall(7, "/shoal.v1.ListService/Append", "req", &body);
  EXPECT_EQ(first, body.size());
  AppendCall(uint64_t{1} << 50, "/shoal.v1.Manager/Release", "", &body);
  AppendAcks({1, 300, uint64_t{1} << 60}, &body);
  AppendFlag(v1::ClientFrame::kHeartbeatFieldNumber, &body);
  v1::ClientFrame parsed;
  ASSERT_TRUE(parsed.ParseFromString(body));
  ASSERT_EQ(parsed.calls_size(), 2);
  EXPECT_EQ(parsed.calls(0).call_id(), 7u);
  EXPECT_EQ(parsed.calls(0).method(), "/shoal.v1.ListService/Append");
  EXPECT_EQ(parsed.calls(0).request(), "req");
  EXPECT_EQ(parsed.calls(1).call_id(), uint64_t{1} << 50);
  EXPECT_EQ(parsed.calls(1).request(), "");
  ASSERT_EQ(parsed.acks_size(), 3);
  EXPECT_EQ(parsed.acks(2), uint64_t{1} << 60);
  EXPECT_TRUE(parsed.heartbeat());
  EXPECT_FALSE(parsed.close());
}

// The entries are written through a buffer of a few hundred bytes: fields
// of every size around its edge, and far past it, are written as
// protobuf's own serializer writes them.
TEST(SessionFramesTest, CallsAndRepliesOfEverySizeAreWrittenAsProtobufWritesThem) {
  const std::string method = "/shoal.v1.ListService/Append";
  for (size_t method_size : {size_t{1}, method.size(), size_t{240}, size_t{300}}) {
    for (size_t size = 0; size <= 520; size += (size < 150 || size > 280) ? 37 : 1) {
      const std::string long_method(method_size, 'm');
      std::string request(size, 'r');
      if (size > 0) request.back() = 'z';
      v1::ClientFrame frame;
      v1::Call* call = frame.add_calls();
      call->set_call_id(uint64_t{1} << 40 | size);
      call->set_method(long_method);
      call->set_request(request);
      std::string written;
      written.push_back('x');  // appended to, not overwritten
      const size_t bytes = AppendCall(call->call_id(), long_method, request, &written);
      EXPECT_EQ(written, "x" + frame.SerializeAsString()) << method_size << " " << size;
      EXPECT_EQ(bytes, written.size() - 1);

      v1::ServerFrame replies;
      v1::Reply* reply = replies.add_replies();
      reply->set_call_id(size + 1);
      reply->set_response(request);
      std::string reply_written;
      AppendOkReply(size + 1, request, &reply_written);
      EXPECT_EQ(reply_written, replies.SerializeAsString()) << size;
    }
  }
}

TEST(SessionFramesTest, WrittenRepliesParseAsAServerFrameAndAreReadInPlace) {
  std::string body;
  AppendOkReply(5, std::string("\x0a\x02\x18\x06", 4), &body);
  AppendOkReply(6, "", &body);
  v1::Reply error;
  error.set_call_id(7);
  error.set_code(-3);  // a negative code takes ten bytes on the wire
  error.set_error_kind("KeyError");
  error.set_error_message("'k'");
  AppendReply(error, &body);
  v1::ServerFrame parsed;
  ASSERT_TRUE(parsed.ParseFromString(body));
  ASSERT_EQ(parsed.replies_size(), 3);
  EXPECT_EQ(parsed.replies(0).response(), std::string("\x0a\x02\x18\x06", 4));
  EXPECT_EQ(parsed.replies(1).call_id(), 6u);
  EXPECT_EQ(parsed.replies(2).code(), -3);
  ServerFrameView quick;
  ASSERT_TRUE(ReadServerFrame(body, &quick));
  ASSERT_EQ(quick.replies.size(), 3u);
  EXPECT_EQ(quick.replies[0].call_id, 5u);
  EXPECT_EQ(quick.replies[0].response, parsed.replies(0).response());
  EXPECT_EQ(quick.replies[2].code, -3);
  EXPECT_EQ(quick.replies[2].error_kind, "KeyError");
  EXPECT_EQ(quick.replies[2].error_message, "'k'");
  EXPECT_FALSE(quick.has_other);
}

TEST(SessionFramesTest, AServerFrameWithItsEndIsLeftToTheParser) {
  v1::ServerFrame frame;
  frame.add_replies()->set_call_id(1);
  frame.mutable_end()->set_code(14);
  ServerFrameView quick;
  EXPECT_FALSE(ReadServerFrame(frame.SerializeAsString(), &quick));
  ViewOf(frame, &quick);
  EXPECT_TRUE(quick.has_other);
  ASSERT_EQ(quick.replies.size(), 1u);
}

TEST(SessionFramesTest, AFramedBodyCarriesItsLength) {
  std::string out;
  AppendFramed("abc", &out);
  EXPECT_EQ(out, std::string("\0\0\0\x03" "abc", 7));
}

}  // namespace
}  // namespace shoal
