// Tokens' text form (client/src/token.h): what proxy.token() writes and
// Manager::attach<P>(token) reads.
#include "client/src/token.h"

#include <gtest/gtest.h>

#include <string>

#include "shoal/errors.h"

namespace shoal::detail {
namespace {

// The message of the ValueError that parsing token throws; "" when it parses.
std::string RefusalOf(const std::string& token) {
  try {
    ParseToken(token);
  } catch (const ValueError& e) {
    return e.what();
  }
  return "";
}

TEST(Token, FormatsKindIdAndIncarnation) {
  EXPECT_EQ(FormatToken(Kind::kList, 7, 0x3f9a0c2e5b1d7a64), "list:7@3f9a0c2e5b1d7a64");
  EXPECT_EQ(FormatToken(Kind::kArray, 42, 1), "Array:42@0000000000000001");
  EXPECT_EQ(FormatToken(Kind::kJoinableQueue, 18446744073709551615u, 0xffffffffffffffff),
            "JoinableQueue:18446744073709551615@ffffffffffffffff");
}

TEST(Token, ParsesWhatItFormats) {
  for (Kind kind : {Kind::kList, Kind::kDict, Kind::kNamespace, Kind::kValue, Kind::kLock,
                    Kind::kRLock, Kind::kSemaphore, Kind::kBoundedSemaphore, Kind::kCondition,
                    Kind::kEvent, Kind::kBarrier, Kind::kQueue, Kind::kJoinableQueue,
                    Kind::kConnection, Kind::kPipe, Kind::kArray, Kind::kPool}) {
    const Token token = ParseToken(FormatToken(kind, 123, 0x0123456789abcdef));
    EXPECT_EQ(token.kind, kind) << KindName(kind);
    EXPECT_EQ(token.id, 123u);
    EXPECT_EQ(token.incarnation, 0x0123456789abcdefu);
  }
}

TEST(Token, TakesTheIncarnationInEitherCase) {
  EXPECT_EQ(ParseToken("dict:9@3F9A0C2E5B1D7A64").incarnation, 0x3f9a0c2e5b1d7a64u);
}

TEST(Token, WithoutTheIncarnationIsMalformed) {
  // A bare kind:id could name whatever object has the id after a restart.
  EXPECT_NE(RefusalOf("list:7").find("expected kind:id@incarnation"), std::string::npos)
      << RefusalOf("list:7");
  EXPECT_NE(RefusalOf("list:7@").find("not 16 hex digits"), std::string::npos);
}

TEST(Token, MalformedPartsAreNamed) {
  EXPECT_NE(RefusalOf("list:7@3f9a0c2e5b1d7a6").find("not 16 hex digits"), std::string::npos);
  EXPECT_NE(RefusalOf("list:7@3f9a0c2e5b1d7a6x").find("not 16 hex digits"), std::string::npos);
  EXPECT_NE(RefusalOf("list:7@3f9a0c2e5b1d7a64@3f9a0c2e5b1d7a64").find("the id"),
            std::string::npos);
  EXPECT_NE(RefusalOf("list:0@3f9a0c2e5b1d7a64").find("the id is not a positive number"),
            std::string::npos);
  EXPECT_NE(RefusalOf("list:-1@3f9a0c2e5b1d7a64").find("the id is not a positive number"),
            std::string::npos);
  EXPECT_NE(RefusalOf("list:x@3f9a0c2e5b1d7a64").find("the id is not a positive number"),
            std::string::npos);
  EXPECT_NE(RefusalOf("List:7@3f9a0c2e5b1d7a64").find("no object kind is called 'List'"),
            std::string::npos);
  EXPECT_NE(RefusalOf("7@3f9a0c2e5b1d7a64").find("expected kind:id@incarnation"),
            std::string::npos);
  EXPECT_NE(RefusalOf("list@3f9a0c2e5b1d7a64:7").find("expected kind:id@incarnation"),
            std::string::npos);
  EXPECT_NE(RefusalOf("").find("expected kind:id@incarnation"), std::string::npos);
  EXPECT_NE(RefusalOf("not a token").find("malformed token 'not a token'"), std::string::npos);
}

}  // namespace
}  // namespace shoal::detail
