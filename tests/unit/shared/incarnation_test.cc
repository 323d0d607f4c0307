#include "shared/incarnation.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>

namespace shoal {
namespace {

TEST(Incarnation, FormatsAsSixteenLowercaseHexDigits) {
  EXPECT_EQ(FormatIncarnation(0x3f9a0c2e5b1d7a64), "3f9a0c2e5b1d7a64");
  EXPECT_EQ(FormatIncarnation(1), "0000000000000001");
  EXPECT_EQ(FormatIncarnation(UINT64_MAX), "ffffffffffffffff");
}

TEST(Incarnation, ParsesWhatItFormats) {
  for (uint64_t incarnation : {uint64_t{1}, uint64_t{0x3f9a0c2e5b1d7a64}, UINT64_MAX}) {
    uint64_t parsed = 0;
    ASSERT_TRUE(ParseIncarnation(FormatIncarnation(incarnation), &parsed));
    EXPECT_EQ(parsed, incarnation);
  }
  uint64_t parsed = 0;
  ASSERT_TRUE(ParseIncarnation("3F9A0C2E5B1D7A64", &parsed));
  EXPECT_EQ(parsed, 0x3f9a0c2e5b1d7a64u);
}

TEST(Incarnation, RefusesAnythingButSixteenHexDigits) {
  uint64_t parsed = 7;
  for (const char* text : {"", "3f9a0c2e5b1d7a6", "3f9a0c2e5b1d7a640", "3f9a0c2e5b1d7a6g",
                           " 3f9a0c2e5b1d7a6", "+3f9a0c2e5b1d7a6", "0x3f9a0c2e5b1d7a",
                           "-000000000000001"}) {
    EXPECT_FALSE(ParseIncarnation(text, &parsed)) << text;
  }
  EXPECT_EQ(parsed, 7u);
}

TEST(Incarnation, NewOnesAreNeverZeroAndDiffer) {
  std::set<uint64_t> seen;
  for (int i = 0; i < 100; ++i) {
    const uint64_t incarnation = NewIncarnation();
    EXPECT_NE(incarnation, 0u);
    seen.insert(incarnation);
  }
  // 100 draws of 64 random bits collide with a chance of about 2^-51.
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace shoal
