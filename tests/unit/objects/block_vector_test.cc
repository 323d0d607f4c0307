#include "server/objects/block_vector.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace shoal::server {
namespace {

// Blocks of 8 items: the first block doubles 4 -> 8, then blocks are added.
using Small = BlockVector<std::string, 8>;

std::vector<std::string> Items(const Small& v) { return {v.begin(), v.end()}; }

// Counts the instances alive, to find an item destroyed twice or never.
struct Counted {
  static int alive;
  explicit Counted(int v = 0) : value(v) { ++alive; }
  Counted(const Counted& other) : value(other.value) { ++alive; }
  Counted(Counted&& other) noexcept : value(other.value) { ++alive; }
  Counted& operator=(const Counted&) = default;
  Counted& operator=(Counted&&) noexcept = default;
  ~Counted() { --alive; }
  int value;
};
int Counted::alive = 0;

TEST(BlockVector, AnEmptyOneHoldsNoBlock) {
  Small v;
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(v.capacity(), 0u);
  EXPECT_EQ(v.begin(), v.end());
}

TEST(BlockVector, TheFirstBlockDoublesThenBlocksAreAdded) {
  Small v;
  v.push_back("a");
  EXPECT_EQ(v.capacity(), 4u);
  for (int i = 1; i < 5; ++i) v.push_back(std::to_string(i));
  EXPECT_EQ(v.capacity(), 8u);
  for (int i = 5; i < 9; ++i) v.push_back(std::to_string(i));
  EXPECT_EQ(v.capacity(), 16u);
  EXPECT_EQ(Items(v), (std::vector<std::string>{"a", "1", "2", "3", "4", "5", "6", "7", "8"}));
}

TEST(BlockVector, GrowthPastTheFirstBlockMovesNoItem) {
  Small v;
  for (int i = 0; i < 8; ++i) v.push_back(std::to_string(i));
  std::vector<const std::string*> where;
  for (const std::string& item : v) where.push_back(&item);
  for (int i = 8; i < 1000; ++i) v.push_back(std::to_string(i));
  for (size_t i = 0; i < where.size(); ++i) EXPECT_EQ(where[i], &v[i]) << i;
  EXPECT_EQ(v[999], "999");
}

TEST(BlockVector, AnItemOfItsOwnCanBeAppendedWhileTheFirstBlockGrows) {
  Small v;
  v.push_back(std::string(100, 'x'));  // Too long to sit inside the string.
  for (int i = 0; i < 40; ++i) v.push_back(v[0]);
  EXPECT_EQ(v.size(), 41u);
  for (const std::string& item : v) EXPECT_EQ(item, std::string(100, 'x'));
}

TEST(BlockVector, ReserveMakesRoomWithoutChangingTheItems) {
  Small v;
  v.push_back("a");
  v.reserve(3);
  EXPECT_EQ(v.capacity(), 4u);
  v.reserve(30);
  EXPECT_GE(v.capacity(), 30u);
  EXPECT_EQ(Items(v), std::vector<std::string>{"a"});
  const size_t room = v.capacity();
  for (size_t i = 1; i < room; ++i) v.push_back("b");
  EXPECT_EQ(v.capacity(), room);
}

TEST(BlockVector, ShrinkingKeepsOneSpareBlockAndClearFreesAll) {
  Small v;
  for (int i = 0; i < 64; ++i) v.push_back("x");
  EXPECT_EQ(v.capacity(), 64u);
  while (v.size() > 8) v.pop_back();
  EXPECT_EQ(v.capacity(), 16u);  // The used block and a spare.
  v.erase(v.begin() + 1, v.end());
  EXPECT_EQ(v.capacity(), 16u);
  v.clear();
  EXPECT_EQ(v.capacity(), 0u);
  v.push_back("y");
  EXPECT_EQ(Items(v), std::vector<std::string>{"y"});
  // Emptied keeping its room, as a vector's clear.
  for (int i = 0; i < 40; ++i) v.push_back("z");
  const size_t room = v.capacity();
  v.clear_keeping_room();
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(v.capacity(), room);
  for (int i = 0; i < 40; ++i) v.push_back(std::to_string(i));
  EXPECT_EQ(v.capacity(), room);
  EXPECT_EQ(v[39], "39");
}

TEST(BlockVector, MovesTakeTheBlocks) {
  Small v;
  for (int i = 0; i < 20; ++i) v.push_back(std::to_string(i));
  Small w(std::move(v));
  EXPECT_EQ(w.size(), 20u);
  EXPECT_EQ(w[19], "19");
  EXPECT_TRUE(v.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty.
  Small x;
  x.push_back("gone");
  x = std::move(w);
  EXPECT_EQ(x.size(), 20u);
  EXPECT_EQ(x[0], "0");
  Small from_vector(std::vector<std::string>{"p", "q"});
  EXPECT_EQ(Items(from_vector), (std::vector<std::string>{"p", "q"}));
}

TEST(BlockVector, IteratorsAreRandomAccessPositions) {
  Small v;
  for (int i = 0; i < 30; ++i) v.push_back(std::to_string(i));
  Small::iterator it = v.begin() + 10;
  EXPECT_EQ(*it, "10");
  EXPECT_EQ(it[5], "15");
  EXPECT_EQ(*(it - 3), "7");
  EXPECT_EQ(v.end() - it, 20);
  Small::const_iterator c = it;
  EXPECT_EQ(c, it);
  EXPECT_LT(v.cbegin(), c);
  EXPECT_EQ(std::find(v.begin(), v.end(), "29") - v.begin(), 29);
  std::reverse(v.begin(), v.end());
  EXPECT_EQ(v.front(), "29");
  EXPECT_EQ(v.back(), "0");
}

// Random appends, inserts, erasures, pops and resizes, each checked against
// std::vector doing the same.
TEST(BlockVector, DoesWhatAVectorDoes) {
  std::mt19937 random(20261204);
  Small v;
  std::vector<std::string> reference;
  int next = 0;
  for (int step = 0; step < 20000; ++step) {
    const size_t size = reference.size();
    const auto pick = [&](size_t n) {
      return std::uniform_int_distribution<size_t>(0, n)(random);
    };
    switch (std::uniform_int_distribution<int>(0, 7)(random)) {
      case 0:
      case 1: {
        std::string item = std::to_string(next++);
        v.push_back(item);
        reference.push_back(item);
        break;
      }
      case 2: {
        const size_t at = pick(size);
        std::string item = std::to_string(next++);
        const auto where = v.insert(v.begin() + static_cast<std::ptrdiff_t>(at), item);
        EXPECT_EQ(where.index(), at);
        reference.insert(reference.begin() + static_cast<std::ptrdiff_t>(at), item);
        break;
      }
      case 3: {
        const size_t at = pick(size);
        std::vector<std::string> more(pick(20));
        for (std::string& item : more) item = std::to_string(next++);
        v.insert(v.begin() + static_cast<std::ptrdiff_t>(at), more.begin(), more.end());
        reference.insert(reference.begin() + static_cast<std::ptrdiff_t>(at), more.begin(),
                         more.end());
        break;
      }
      case 4: {
        const size_t from = pick(size);
        const size_t to = from + pick(std::min<size_t>(size - from, 30));
        const auto after = v.erase(v.begin() + static_cast<std::ptrdiff_t>(from),
                                   v.begin() + static_cast<std::ptrdiff_t>(to));
        EXPECT_EQ(after.index(), from);
        reference.erase(reference.begin() + static_cast<std::ptrdiff_t>(from),
                        reference.begin() + static_cast<std::ptrdiff_t>(to));
        break;
      }
      case 5:
        if (size > 0) {
          v.pop_back();
          reference.pop_back();
        }
        break;
      case 6: {
        const size_t n = size > 10 ? size - pick(10) : size + pick(10);
        v.resize(n);
        reference.resize(n);
        break;
      }
      case 7:
        if (size > 0) {
          const size_t at = pick(size - 1);
          v[at] += "!";
          reference[at] += "!";
        }
        break;
    }
    ASSERT_EQ(v.size(), reference.size()) << "step " << step;
    ASSERT_GE(v.capacity(), v.size());
    if (step % 97 == 0) ASSERT_EQ(Items(v), reference) << "step " << step;
    if (step % 5000 == 4999) {
      v.clear();
      reference.clear();
    }
  }
  EXPECT_EQ(Items(v), reference);
}

TEST(BlockVector, EveryItemMadeIsDestroyedOnce) {
  Counted::alive = 0;
  {
    BlockVector<Counted, 16> kept;
    for (int i = 0; i < 40; ++i) kept.emplace_back(i);
    kept.clear_keeping_room();
    EXPECT_EQ(Counted::alive, 0);
  }
  {
    // Blocks of 16: the first block doubles 4 -> 8 -> 16, moving its items.
    BlockVector<Counted, 16> v;
    for (int i = 0; i < 50; ++i) v.emplace_back(i);
    v.insert(v.begin() + 3, Counted(100));
    std::vector<Counted> more(7, Counted(7));
    v.insert(v.begin() + 20, more.begin(), more.end());
    more.clear();
    v.erase(v.begin() + 5, v.begin() + 30);
    v.pop_back();
    v.resize(40);
    v.resize(10);
    EXPECT_EQ(Counted::alive, 10);
    EXPECT_EQ(v[3].value, 100);
    BlockVector<Counted, 16> w(std::move(v));
    EXPECT_EQ(Counted::alive, 10);
  }
  EXPECT_EQ(Counted::alive, 0);
}

}  // namespace
}  // namespace shoal::server
