#include "shared/utf8.h"

#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace shoal {
namespace {

TEST(Utf8Test, DecodesOneCharacterOfEachLength) {
  struct Case {
    std::string text;
    uint32_t code_point;
  };
  const Case cases[] = {
      {std::string(1, '\0'), 0}, {"a", 'a'},       {"\x7f", 0x7f},
      {"\xc3\xa9", 0xe9},        {"\xe2\x82\xac", 0x20ac}, {"\xf0\x9f\x90\x9f", 0x1f41f},
  };
  for (const Case& c : cases) {
    uint32_t cp = 0;
    EXPECT_EQ(DecodeUtf8(c.text, 0, &cp), c.text.size()) << c.code_point;
    EXPECT_EQ(cp, c.code_point);
    std::string encoded;
    AppendUtf8(c.code_point, &encoded);
    EXPECT_EQ(encoded, c.text);
  }
}

TEST(Utf8Test, RefusesWhatIsNotUtf8) {
  uint32_t cp = 0;
  EXPECT_EQ(DecodeUtf8("\x80", 0, &cp), 0u);              // a continuation byte
  EXPECT_EQ(DecodeUtf8("\xc0\xaf", 0, &cp), 0u);          // overlong
  EXPECT_EQ(DecodeUtf8("\xed\xa0\x80", 0, &cp), 0u);      // a surrogate
  EXPECT_EQ(DecodeUtf8("\xf4\x90\x80\x80", 0, &cp), 0u);  // past U+10FFFF
  EXPECT_EQ(DecodeUtf8("\xe2\x82", 0, &cp), 0u);          // truncated
}

TEST(Utf8Test, DecodesAtAnOffset) {
  uint32_t cp = 0;
  EXPECT_EQ(DecodeUtf8("ab\xc3\xa9", 2, &cp), 2u);
  EXPECT_EQ(cp, 0xe9u);
}

TEST(Utf8Test, ValidatesWholeStringsAcrossTheAsciiStride) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii, longer than eight bytes"));
  EXPECT_TRUE(IsValidUtf8("0123456\xc3\xa9 and \xf0\x9f\x90\x9f at the end"));
  // A bad byte at every place of an eight-byte stride, and after it.
  for (size_t at = 0; at < 20; ++at) {
    std::string text(20, 'a');
    text[at] = '\x80';
    EXPECT_FALSE(IsValidUtf8(text)) << at;
    text[at] = '\xc3';  // a lead byte cut short by ASCII
    EXPECT_FALSE(IsValidUtf8(text)) << at;
  }
  EXPECT_FALSE(IsValidUtf8("abcdefgh\xed\xa0\x80"));  // a surrogate after a stride
}

// Decoding one character after another: what IsValidUtf8's word-wide
// steps must agree with.
bool ValidByDecoding(const std::string& text) {
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    const size_t n = DecodeUtf8(text, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

TEST(Utf8Test, AgreesWithDecodingWhereverACharacterFallsInTheLastWord) {
  // Strings of 0 to 24 bytes, ASCII but for one piece (a valid character
  // of two, three or four bytes, a stray byte, a character cut short) at
  // every offset: the word that ends a string overlaps the one before it.
  const std::string pieces[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x90\x9f",
                                "\x80",     "\xc3",         "\xe2\x82"};
  int valid = 0;
  for (size_t size = 0; size <= 24; ++size) {
    EXPECT_TRUE(IsValidUtf8(std::string(size, 'a'))) << size;
    for (const std::string& piece : pieces) {
      for (size_t at = 0; at + piece.size() <= size; ++at) {
        std::string text(size, 'a');
        text.replace(at, piece.size(), piece);
        EXPECT_EQ(IsValidUtf8(text), ValidByDecoding(text)) << size << " " << at;
        valid += ValidByDecoding(text) ? 1 : 0;
      }
    }
  }
  EXPECT_GT(valid, 0);
}

}  // namespace
}  // namespace shoal
