#include "shared/frame_reader.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "shared/error_kind.h"
#include "shared/framing.h"
#include "shoal/v1/session.pb.h"

namespace shoal {
namespace {

// The bytes of a frame holding a ClientFrame with this token.
std::string Framed(const std::string& token) {
  v1::ClientFrame frame;
  frame.set_token(token);
  std::string out;
  AppendFrame(frame, &out);
  return out;
}

std::string TokenOf(absl::string_view message) {
  v1::ClientFrame frame;
  EXPECT_TRUE(frame.ParseFromArray(message.data(), static_cast<int>(message.size())));
  return frame.token();
}

TEST(FrameReader, YieldsNothingFromAnEmptyBuffer) {
  FrameReader reader;
  EXPECT_FALSE(reader.Next().has_value());
  EXPECT_TRUE(reader.status().ok());
}

TEST(FrameReader, YieldsEveryWholeFrameOfOneRead) {
  FrameReader reader;
  const std::string bytes = Framed("one") + Framed("two") + Framed("three");
  reader.Append(bytes.data(), bytes.size());
  std::vector<std::string> tokens;
  while (std::optional<absl::string_view> message = reader.Next()) {
    tokens.push_back(TokenOf(*message));
  }
  EXPECT_EQ(tokens, (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(FrameReader, WaitsForAFrameThatArrivesByteByByte) {
  FrameReader reader;
  const std::string bytes = Framed("slow");
  for (size_t i = 0; i + 1 < bytes.size(); ++i) {
    reader.Append(&bytes[i], 1);
    EXPECT_FALSE(reader.Next().has_value()) << "after " << i + 1 << " bytes";
  }
  reader.Append(&bytes.back(), 1);
  std::optional<absl::string_view> message = reader.Next();
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(TokenOf(*message), "slow");
}

TEST(FrameReader, KeepsThePartOfTheNextFrameAfterAWholeOne) {
  FrameReader reader;
  const std::string first = Framed("first");
  const std::string second = Framed(std::string(1000, 's'));
  const std::string bytes = first + second.substr(0, 10);
  reader.Append(bytes.data(), bytes.size());
  ASSERT_TRUE(reader.Next().has_value());
  EXPECT_FALSE(reader.Next().has_value());
  EXPECT_EQ(reader.buffered(), 10u);
  reader.Append(second.data() + 10, second.size() - 10);
  std::optional<absl::string_view> message = reader.Next();
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(TokenOf(*message), std::string(1000, 's'));
}

// The bytes of a header announcing a message of size bytes.
std::string Header(uint32_t size) {
  return std::string{static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                     static_cast<char>(size >> 8), static_cast<char>(size)};
}

TEST(FrameReader, AnnouncedLengthReservesNothing) {
  // A header announcing 16 MiB, then a few bytes: the buffer holds what came
  // and one read's room, not the frame announced.
  constexpr size_t kChunk = 64 << 10;
  FrameReader reader(/*max_frame=*/16 << 20);
  const std::string bytes = Header(16 << 20) + "abcdef";
  reader.Append(bytes.data(), bytes.size());
  EXPECT_FALSE(reader.Next().has_value());
  EXPECT_TRUE(reader.status().ok());
  absl::Span<char> space = reader.WriteSpace(kChunk);
  EXPECT_GE(space.size(), kChunk);
  EXPECT_LT(space.size(), 2 * kChunk);
  EXPECT_LE(reader.allocated(), 2 * (bytes.size() + kChunk));
  reader.Commit(0);
  EXPECT_EQ(reader.buffered(), bytes.size());
}

TEST(FrameReader, BufferGrowsGeometricallyWithWhatArrived) {
  // A 4 MiB frame read 64 KiB at a time, as the server reads a socket: the
  // buffer never holds much more than twice what arrived, and it is
  // reallocated a logarithmic number of times, not once per read.
  constexpr size_t kChunk = 64 << 10;
  const std::string bytes = Framed(std::string(4 << 20, 'x'));
  FrameReader reader;
  size_t at = 0;
  size_t reallocations = 0;
  size_t last_allocated = reader.allocated();
  std::optional<absl::string_view> message;
  while (!(message = reader.Next()).has_value()) {
    ASSERT_LT(at, bytes.size());
    absl::Span<char> space = reader.WriteSpace(kChunk);
    ASSERT_GE(space.size(), kChunk);
    const size_t n = std::min(kChunk, bytes.size() - at);
    std::memcpy(space.data(), bytes.data() + at, n);
    reader.Commit(n);
    at += n;
    EXPECT_LE(reader.allocated(), 2 * (at + kChunk)) << "after " << at << " bytes";
    if (reader.allocated() != last_allocated) ++reallocations;
    last_allocated = reader.allocated();
  }
  EXPECT_EQ(at, bytes.size());
  EXPECT_EQ(TokenOf(*message).size(), size_t{4} << 20);
  EXPECT_LE(reallocations, 10u);
}

TEST(FrameReader, GivesBackALargeBufferOnceEmpty) {
  const std::string large = Framed(std::string(3 << 20, 'l'));
  FrameReader reader;
  reader.Append(large.data(), large.size());
  ASSERT_TRUE(reader.Next().has_value());
  EXPECT_GE(reader.allocated(), large.size());
  const std::string small = Framed("small");
  reader.Append(small.data(), small.size());
  EXPECT_LT(reader.allocated(), size_t{1} << 20);
  std::optional<absl::string_view> message = reader.Next();
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(TokenOf(*message), "small");
}

TEST(FrameReader, LimitCanBeRaisedForLaterFrames) {
  // A small first frame, then the full limit, as a transport does at login.
  FrameReader reader(/*max_frame=*/64);
  const std::string first = Framed("login");
  const std::string second = Framed(std::string(1000, 'b'));
  const std::string bytes = first + second;
  reader.Append(bytes.data(), bytes.size());
  ASSERT_TRUE(reader.Next().has_value());
  reader.set_max_frame(4096);
  std::optional<absl::string_view> message = reader.Next();
  ASSERT_TRUE(message.has_value()) << reader.status();
  EXPECT_EQ(TokenOf(*message).size(), 1000u);
}

TEST(FrameReader, SmallLimitRefusesALargeFirstFrame) {
  FrameReader reader(/*max_frame=*/64);
  const std::string bytes = Framed(std::string(1000, 'b'));
  reader.Append(bytes.data(), kFrameHeaderBytes);
  EXPECT_FALSE(reader.Next().has_value());
  EXPECT_EQ(ErrorKindOf(reader.status()), ErrorKind::kLimitError);
}

// A header alone must not make the reader allocate the frame it announces
// (up to 4 GiB with the client's reader, which has no limit): room is made
// as the bytes arrive. Found by fuzz/frame_reader_fuzz.cc.
TEST(FrameReader, AHeaderAloneDoesNotAllocateTheFrameItAnnounces) {
  FrameReader reader;
  const std::string big(8 << 20, 'b');
  std::string bytes;
  v1::ClientFrame frame;
  frame.set_token(big);
  AppendFrame(frame, &bytes);
  reader.Append(bytes.data(), kFrameHeaderBytes);
  EXPECT_FALSE(reader.Next().has_value());
  EXPECT_LE(reader.WriteSpace(64).size(), size_t{1} << 20);
  // The frame still comes whole, read in the room each WriteSpace gives.
  size_t at = kFrameHeaderBytes;
  std::optional<absl::string_view> message;
  while (!(message = reader.Next()).has_value()) {
    ASSERT_LT(at, bytes.size());
    absl::Span<char> space = reader.WriteSpace(64 << 10);
    const size_t n = std::min(space.size(), bytes.size() - at);
    std::memcpy(space.data(), bytes.data() + at, n);
    reader.Commit(n);
    at += n;
  }
  EXPECT_EQ(TokenOf(*message), big);
}

TEST(FrameReader, ReadsIntoWriteSpaceAsABlockingReaderWould) {
  FrameReader reader;
  const std::string bytes = Framed("a") + Framed("bb") + Framed("ccc");
  // A reader that gets at most 3 bytes per read.
  size_t at = 0;
  std::vector<std::string> tokens;
  while (tokens.size() < 3) {
    if (std::optional<absl::string_view> message = reader.Next()) {
      tokens.push_back(TokenOf(*message));
      continue;
    }
    absl::Span<char> space = reader.WriteSpace(3);
    const size_t n = std::min<size_t>(3, bytes.size() - at);
    ASSERT_GT(n, 0u);
    std::memcpy(space.data(), bytes.data() + at, n);
    reader.Commit(n);
    at += n;
  }
  EXPECT_EQ(tokens, (std::vector<std::string>{"a", "bb", "ccc"}));
}

TEST(FrameReader, RefusesAFramePastTheLimitOnceItsHeaderIsRead) {
  FrameReader reader(/*max_frame=*/100);
  const std::string small = Framed("ok");
  const std::string large = Framed(std::string(200, 'x'));
  const std::string bytes = small + large.substr(0, kFrameHeaderBytes);
  reader.Append(bytes.data(), bytes.size());
  ASSERT_TRUE(reader.Next().has_value());
  EXPECT_FALSE(reader.Next().has_value());
  EXPECT_EQ(ErrorKindOf(reader.status()), ErrorKind::kLimitError);
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kResourceExhausted);
  // The refusal stays, whatever arrives later.
  reader.Append(large.data() + kFrameHeaderBytes, large.size() - kFrameHeaderBytes);
  EXPECT_FALSE(reader.Next().has_value());
  EXPECT_FALSE(reader.status().ok());
}

TEST(FrameReader, AcceptsAFrameOfExactlyTheLimit) {
  const std::string bytes = Framed("limit");
  FrameReader reader(bytes.size() - kFrameHeaderBytes);
  reader.Append(bytes.data(), bytes.size());
  EXPECT_TRUE(reader.Next().has_value());
  EXPECT_TRUE(reader.status().ok());
}

TEST(FrameReader, AnEmptyMessageIsAFrame) {
  FrameReader reader;
  const std::string bytes = Framed("");
  ASSERT_EQ(bytes.size(), kFrameHeaderBytes);
  reader.Append(bytes.data(), bytes.size());
  std::optional<absl::string_view> message = reader.Next();
  ASSERT_TRUE(message.has_value());
  EXPECT_TRUE(message->empty());
}

TEST(FrameReader, ManyFramesThroughASmallBufferKeepTheirOrder) {
  FrameReader reader;
  std::string bytes;
  for (int i = 0; i < 1000; ++i) bytes += Framed(std::to_string(i));
  int next = 0;
  for (size_t at = 0; at < bytes.size(); at += 7) {
    reader.Append(bytes.data() + at, std::min<size_t>(7, bytes.size() - at));
    while (std::optional<absl::string_view> message = reader.Next()) {
      EXPECT_EQ(TokenOf(*message), std::to_string(next++));
    }
  }
  EXPECT_EQ(next, 1000);
  EXPECT_EQ(reader.buffered(), 0u);
}

}  // namespace
}  // namespace shoal
