// The core's incarnation, and its check of the incarnation an id was given
// under (Manager/Lookup's).
#include <gtest/gtest.h>

#include <string>

#include "server/core/core.h"
#include "shared/error_kind.h"
#include "shared/incarnation.h"

namespace shoal::server {
namespace {

TEST(CoreIncarnation, EachCoreDrawsItsOwn) {
  Core first(CoreOptions{});
  Core second(CoreOptions{});
  EXPECT_NE(first.incarnation(), 0u);
  EXPECT_NE(second.incarnation(), 0u);
  EXPECT_NE(first.incarnation(), second.incarnation());
}

TEST(CoreIncarnation, TakesItsOwnOrNone) {
  Core core(CoreOptions{});
  EXPECT_TRUE(core.CheckIncarnation("", 7, "").ok());
  EXPECT_TRUE(core.CheckIncarnation(FormatIncarnation(core.incarnation()), 7, "").ok());
}

TEST(CoreIncarnation, AnotherIsAKeyErrorThatSaysTheObjectIsGone) {
  Core core(CoreOptions{});
  const uint64_t other = core.incarnation() ^ 1;
  const absl::Status refused = core.CheckIncarnation(FormatIncarnation(other), 7, "");
  EXPECT_EQ(ErrorKindOf(refused), ErrorKind::kKeyError);
  EXPECT_EQ(refused.message(), "object 7@" + FormatIncarnation(other) +
                                   " is from another start of the server (this is " +
                                   FormatIncarnation(core.incarnation()) +
                                   "); the object it named is gone");
  const absl::Status by_name = core.CheckIncarnation(FormatIncarnation(other), 0, "jobs");
  EXPECT_EQ(ErrorKindOf(by_name), ErrorKind::kKeyError);
  EXPECT_EQ(by_name.message().rfind("'jobs'@", 0), 0u) << by_name.message();
}

TEST(CoreIncarnation, AMalformedOneIsAValueError) {
  Core core(CoreOptions{});
  for (const char* text : {"0", "xyz", "3f9a0c2e5b1d7a6", "3f9a0c2e5b1d7a640"}) {
    const absl::Status refused = core.CheckIncarnation(text, 7, "");
    EXPECT_EQ(ErrorKindOf(refused), ErrorKind::kValueError) << text;
  }
}

}  // namespace
}  // namespace shoal::server
