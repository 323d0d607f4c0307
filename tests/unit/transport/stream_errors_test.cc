#include "server/transport/stream_errors.h"

#include <string>

#include "gtest/gtest.h"
#include "shared/error_kind.h"
#include "shoal/v1/session.pb.h"

namespace shoal::server {
namespace {

TEST(StreamErrorsTest, AReplyErrorCarriesItsKindAndMessage) {
  v1::Reply reply;
  FillReplyError(error::ValueError("bad 'é'"), &reply);
  EXPECT_EQ(reply.code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(reply.error_kind(), "ValueError");
  EXPECT_EQ(reply.error_message(), "bad 'é'");
}

// A message that quotes bytes that are not UTF-8 would make a reply no
// protobuf parser takes (a string field must be UTF-8), and with it the
// whole frame of replies: its other bytes are marked instead.
TEST(StreamErrorsTest, AMessageThatIsNotUtf8IsMadeOne) {
  v1::Reply reply;
  reply.set_call_id(3);
  FillReplyError(error::ValueError(std::string("unknown method '\xff\xfe/x'")), &reply);
  EXPECT_EQ(reply.error_message(), "unknown method '?" "?/x'");
  v1::ServerFrame frame;
  *frame.add_replies() = reply;
  v1::ServerFrame parsed;
  ASSERT_TRUE(parsed.ParseFromString(frame.SerializeAsString()));
  EXPECT_EQ(parsed.replies(0).call_id(), 3u);
}

}  // namespace
}  // namespace shoal::server
