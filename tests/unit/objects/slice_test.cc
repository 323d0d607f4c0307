#include "server/objects/slice.h"

#include <cstdint>
#include <limits>
#include <optional>

#include "gtest/gtest.h"
#include "tests/unit/objects/test_util.h"

namespace shoal::server {
namespace {

using ::shoal::testing_util::IsError;

constexpr std::optional<int64_t> kNone = std::nullopt;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// Expected values are Python's: slice(start, stop, step).indices(length) and
// len(range(*indices)).
struct Case {
  std::optional<int64_t> start, stop, step;
  int64_t length;
  int64_t want_start, want_stop, want_step, want_count;
};

TEST(ResolveSlice, MatchesPythonSliceIndices) {
  const Case cases[] = {
      {kNone, kNone, kNone, 10, 0, 10, 1, 10},
      {kNone, kNone, -1, 10, 9, -1, -1, 10},
      {-3, kNone, kNone, 10, 7, 10, 1, 3},
      {-100, 100, 2, 10, 0, 10, 2, 5},
      {5, -100, -1, 10, 5, -1, -1, 6},
      {100, kNone, -2, 10, 9, -1, -2, 5},
      {2, 8, 3, 10, 2, 8, 3, 2},
      {8, 2, 1, 10, 8, 2, 1, 0},
      {8, 2, -2, 10, 8, 2, -2, 3},
      {-1, -4, -1, 10, 9, 6, -1, 3},
      {kNone, 2, -1, 10, 9, 2, -1, 7},
      {2, kNone, -1, 10, 2, -1, -1, 3},
      {kNone, kNone, -4, 10, 9, -1, -4, 3},
      {1, 100, 3, 10, 1, 10, 3, 3},
      {kNone, kNone, 5, 0, 0, 0, 5, 0},
      {kNone, kNone, -1, 0, -1, -1, -1, 0},
      {kMin, kMax, kNone, 10, 0, 10, 1, 10},
      {kMax, kMin, -1, 10, 9, -1, -1, 10},
      {0, 10, kMax, 10, 0, 10, kMax, 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message()
                 << "start=" << c.start.value_or(-999) << " stop=" << c.stop.value_or(-999)
                 << " step=" << c.step.value_or(-999) << " length=" << c.length);
    absl::StatusOr<ResolvedSlice> slice = ResolveSlice(c.start, c.stop, c.step, c.length);
    ASSERT_TRUE(slice.ok()) << slice.status();
    EXPECT_EQ(slice->start, c.want_start);
    EXPECT_EQ(slice->stop, c.want_stop);
    EXPECT_EQ(slice->step, c.want_step);
    EXPECT_EQ(slice->count, c.want_count);
  }
}

TEST(ResolveSlice, ZeroStepIsValueError) {
  EXPECT_TRUE(IsError(ResolveSlice(kNone, kNone, 0, 10), ErrorKind::kValueError,
                      "slice step cannot be zero"));
}

TEST(ResolveSlice, MostNegativeStepSelectsTheLastItemOnly) {
  absl::StatusOr<ResolvedSlice> slice = ResolveSlice(kNone, kNone, kMin, 10);
  ASSERT_TRUE(slice.ok()) << slice.status();
  EXPECT_EQ(slice->step, -kMax);
  EXPECT_EQ(slice->count, 1);
  EXPECT_EQ(slice->IndexAt(0), 9);
}

TEST(ResolveSlice, IndexAtWalksTheSelection) {
  absl::StatusOr<ResolvedSlice> slice = ResolveSlice(8, 2, -2, 10);
  ASSERT_TRUE(slice.ok()) << slice.status();
  EXPECT_EQ(slice->IndexAt(0), 8);
  EXPECT_EQ(slice->IndexAt(1), 6);
  EXPECT_EQ(slice->IndexAt(2), 4);
}

}  // namespace
}  // namespace shoal::server
