// Every ListProxy operation against a real server, with the results Python's
// ListProxy gives for the same calls.
#include <cstdint>
#include <limits>
#include <thread>

#include "integration/fixture.h"
#include "integration/server_process.h"

namespace shoal::testing {
namespace {

class ListTest : public ServerTest {
 protected:
  void SetUp() override { m_ = Connect(); }
  ListProxy Fresh(std::initializer_list<int> values) { return m_.list(Ints(values)); }
  Manager m_;
};

TEST_F(ListTest, AppendExtendInsertKeepPythonOrder) {
  ListProxy l = m_.list();
  l.append(1);
  l.extend({2, "three", 4.0});
  l.insert(0, "first");
  l.insert(-1, "before-last");
  l.insert(100, "end");
  EXPECT_EQ(l.copy(), (Value::List{"first", 1, 2, "three", "before-last", 4.0, "end"}));
  EXPECT_EQ(l.len(), 7u);
  EXPECT_EQ(l.str(), "['first', 1, 2, 'three', 'before-last', 4.0, 'end']");
}

TEST_F(ListTest, IndexingWithNegativesAndErrors) {
  ListProxy l = Fresh({10, 20, 30});
  EXPECT_EQ(l[0].as_int(), 10);
  EXPECT_EQ(l[-1].as_int(), 30);
  EXPECT_EQ(l.get(-3).as_int(), 10);
  EXPECT_THROW(l.get(3), IndexError);
  EXPECT_THROW(l.get(-4), IndexError);
  l.set(-1, "x");
  EXPECT_THROW(l.set(5, 1), IndexError);
  l.del(0);
  EXPECT_THROW(l.del(7), IndexError);
  EXPECT_EQ(l.copy(), (Value::List{20, "x"}));
}

TEST_F(ListTest, PopRemoveIndexCount) {
  ListProxy l = Fresh({1, 2, 3, 2, 1});
  EXPECT_EQ(l.pop().as_int(), 1);
  EXPECT_EQ(l.pop(0).as_int(), 1);
  EXPECT_EQ(l.copy(), Ints({2, 3, 2}));
  EXPECT_EQ(l.count(2), 2u);
  EXPECT_EQ(l.count("2"), 0u);
  EXPECT_EQ(l.index(2), 0);
  EXPECT_EQ(l.index(2, 1), 2);
  EXPECT_THROW(l.index(2, 1, 2), ValueError);
  EXPECT_THROW(l.index(99), ValueError);
  l.remove(2);
  EXPECT_EQ(l.copy(), Ints({3, 2}));
  EXPECT_THROW(l.remove(99), ValueError);
  l.clear();
  EXPECT_THROW(l.pop(), IndexError);
}

TEST_F(ListTest, EqualNumbersMatchAcrossTypes) {
  ListProxy l = m_.list(Value::List{1, 2.0, true});
  EXPECT_TRUE(l.contains(1.0));
  EXPECT_TRUE(l.contains(2));
  EXPECT_EQ(l.count(1), 2u);  // 1 and True
  EXPECT_FALSE(l.contains("1"));
}

TEST_F(ListTest, SlicesFollowPython) {
  ListProxy l = Fresh({0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  EXPECT_EQ(l.slice(2, 5), Ints({2, 3, 4}));
  EXPECT_EQ(l.slice(-3, std::nullopt), Ints({7, 8, 9}));
  EXPECT_EQ(l.slice(std::nullopt, std::nullopt, 3), Ints({0, 3, 6, 9}));
  EXPECT_EQ(l.slice(std::nullopt, std::nullopt, -4), Ints({9, 5, 1}));
  EXPECT_EQ(l.slice(8, 2, -2), Ints({8, 6, 4}));
  EXPECT_EQ(l.slice(5, 2), Ints({}));
  EXPECT_THROW(l.slice(std::nullopt, std::nullopt, 0), ValueError);

  l.set_slice(1, 3, std::nullopt, {"a", "b", "c"});
  EXPECT_EQ(l.slice(0, 5), (Value::List{0, "a", "b", "c", 3}));
  l.del_slice(1, 4);
  EXPECT_EQ(l.copy(), Ints({0, 3, 4, 5, 6, 7, 8, 9}));
  l.set_slice(std::nullopt, std::nullopt, 2, {-1, -2, -3, -4});
  EXPECT_EQ(l.copy(), Ints({-1, 3, -2, 5, -3, 7, -4, 9}));
  EXPECT_THROW(l.set_slice(std::nullopt, std::nullopt, 2, {1, 2}), ValueError);
  l.del_slice(std::nullopt, std::nullopt, -2);
  EXPECT_EQ(l.copy(), Ints({-1, -2, -3, -4}));
}

TEST_F(ListTest, SortAndReverse) {
  ListProxy l = m_.list(Value::List{3, 1.5, true, -2, 10});
  l.sort();
  EXPECT_EQ(l.copy(), (Value::List{-2, true, 1.5, 3, 10}));
  l.sort(/*reverse=*/true);
  EXPECT_EQ(l.copy(), (Value::List{10, 3, 1.5, true, -2}));
  l.reverse();
  EXPECT_EQ(l.copy(), (Value::List{-2, true, 1.5, 3, 10}));
  ListProxy words = m_.list(Value::List{"pear", "apple", "fig"});
  words.sort();
  EXPECT_EQ(words.copy(), (Value::List{"apple", "fig", "pear"}));
  ListProxy nested = m_.list(Value::List{Value::list({2, 1}), Value::list({1, 5}), Value::list({2})});
  nested.sort();
  EXPECT_EQ(nested.str(), "[[1, 5], [2], [2, 1]]");
}

TEST_F(ListTest, SortOfIncomparableTypesIsTypeErrorAndChangesNothing) {
  ListProxy l = m_.list(Value::List{3, "a", 1});
  EXPECT_THROW(l.sort(), TypeError);
  EXPECT_EQ(l.copy(), (Value::List{3, "a", 1}));
  ListProxy with_none = m_.list(Value::List{1, Value()});
  EXPECT_THROW(with_none.sort(), TypeError);
}

TEST_F(ListTest, InPlaceOperators) {
  ListProxy l = Fresh({1, 2});
  l += Value::List{3};
  EXPECT_EQ(l.copy(), Ints({1, 2, 3}));
  l *= 2;
  EXPECT_EQ(l.copy(), Ints({1, 2, 3, 1, 2, 3}));
  l *= 0;
  EXPECT_EQ(l.len(), 0u);
}

TEST_F(ListTest, ConcatenationRepetitionAndReversedGiveNewPlainLists) {
  // Python: lst + [3] == [1, 2, 3]; lst * 2 == 2 * lst == [1, 2, 1, 2];
  // list(reversed(lst)) == [2, 1]; lst itself stays [1, 2].
  ListProxy l = Fresh({1, 2});
  EXPECT_EQ(l + Value::List{3}, Ints({1, 2, 3}));
  EXPECT_EQ(l + Value::List{}, Ints({1, 2}));
  EXPECT_EQ(l * 2, Ints({1, 2, 1, 2}));
  EXPECT_EQ(2 * l, Ints({1, 2, 1, 2}));
  EXPECT_EQ(l * 1, Ints({1, 2}));
  EXPECT_EQ(l * 0, Value::List());
  EXPECT_EQ(l * -3, Value::List());
  EXPECT_EQ(l.reversed(), Ints({2, 1}));
  EXPECT_EQ(l.copy(), Ints({1, 2}));

  ListProxy other = Fresh({3, 4});
  EXPECT_EQ(l + other.copy(), Ints({1, 2, 3, 4}));

  ListProxy empty = m_.list();
  EXPECT_EQ(empty * 1000000, Value::List());
  EXPECT_EQ(empty.reversed(), Value::List());
  EXPECT_THROW(l * std::numeric_limits<int64_t>::max(), LimitError);
}

TEST_F(ListTest, RepetitionRepeatsReferencesToTheSameObjects) {
  ListProxy inner = m_.list(Ints({7}));
  ListProxy l = m_.list(Value::List{inner});
  Value::List twice = l * 2;
  ASSERT_EQ(twice.size(), 2u);
  ListProxy first(twice[0]), second(twice[1]);
  EXPECT_EQ(first, inner);
  EXPECT_EQ(second, inner);
  first.append(8);
  EXPECT_EQ(inner.copy(), Ints({7, 8}));
}

TEST_F(ListTest, AllValueTypesRoundTrip) {
  ListProxy l = m_.list();
  Value nested = Value::dict({{"k", Value::list({1, Value::bytes(std::string("\x00\xff", 2))})},
                              {2, Value()}});
  l.extend({Value(), true, int64_t{-9007199254740993}, 2.5, "text", Value::bytes("raw"), nested});
  Value::List back = l.copy();
  ASSERT_EQ(back.size(), 7u);
  EXPECT_TRUE(back[0].is_none());
  EXPECT_TRUE(back[1].is_bool());
  EXPECT_EQ(back[2].as_int(), -9007199254740993);
  EXPECT_EQ(back[3].as_float(), 2.5);
  EXPECT_EQ(back[4].as_str(), "text");
  EXPECT_EQ(back[5].as_bytes(), "raw");
  EXPECT_EQ(back[6], nested);
  EXPECT_EQ(l.str(), "[None, True, -9007199254740993, 2.5, 'text', b'raw', "
                     "{'k': [1, b'\\x00\\xff'], 2: None}]");
}

TEST_F(ListTest, NamedListIsSharedBetweenSessions) {
  const std::string name = Unique("shared");
  ListProxy mine = m_.list(name);
  mine.append("from-a");
  Manager other = Connect();
  ListProxy theirs = other.list(name);
  theirs.append("from-b");
  EXPECT_EQ(mine.copy(), (Value::List{"from-a", "from-b"}));
  EXPECT_EQ(mine.id(), theirs.id());
}

TEST_F(ListTest, TokenAttachesAnotherSession) {
  ListProxy l = Fresh({1});
  Manager other = Connect();
  ListProxy attached = other.attach<ListProxy>(l.token());
  attached.append(2);
  EXPECT_EQ(l.copy(), Ints({1, 2}));
  EXPECT_THROW(other.attach<DictProxy>(l.token()), TypeError);
}

TEST_F(ListTest, IterationReadsEachItemInTurn) {
  ListProxy l = m_.list(Value::List{1, "two", 3.5});
  Value::List seen;
  for (Value item : l) seen.push_back(item);
  EXPECT_EQ(seen, (Value::List{1, "two", 3.5}));
  // An input iterator: standard algorithms and constructors take it.
  EXPECT_EQ(Value::List(l.begin(), l.end()), seen);
  ListProxy::iterator it = l.begin();
  EXPECT_EQ(it->as_int(), 1);
  EXPECT_EQ((*it++).as_int(), 1);
  EXPECT_EQ(it->as_str(), "two");
  EXPECT_NE(it, l.end());
  ++it;
  ++it;
  EXPECT_EQ(it, l.end());
  ListProxy empty = m_.list();
  EXPECT_EQ(empty.begin(), empty.end());
}

// Python's ListProxy iterates through lst[i] until IndexError, so a change
// made during the loop is seen, as in these Python loops.
TEST_F(ListTest, IterationSeesChangesMadeMeanwhile) {
  // for x in lst: if x < 3: lst.append(x + 10)
  ListProxy grows = Fresh({1, 2, 3});
  Value::List seen;
  for (Value item : grows) {
    seen.push_back(item);
    if (item.as_int() < 3) grows.append(item.as_int() + 10);
  }
  EXPECT_EQ(seen, Ints({1, 2, 3, 11, 12}));

  // for x in lst: lst.remove(x) visits every other item.
  ListProxy shrinks = Fresh({1, 2, 3, 4});
  seen.clear();
  for (Value item : shrinks) {
    seen.push_back(item);
    shrinks.remove(item);
  }
  EXPECT_EQ(seen, Ints({1, 3}));
  EXPECT_EQ(shrinks.copy(), Ints({2, 4}));

  // Another session's changes too.
  ListProxy shared = Fresh({1, 2});
  Manager other = Connect();
  ListProxy theirs = other.attach<ListProxy>(shared.token());
  seen.clear();
  for (Value item : shared) {
    seen.push_back(item);
    if (item.as_int() == 1) {
      theirs.set(1, 20);
      theirs.append(30);
    }
  }
  EXPECT_EQ(seen, Ints({1, 20, 30}));
}

// Another process appends while this one iterates: the loop goes on to the
// items it added.
TEST_F(ListTest, IterationSeesItemsAnotherProcessAppended) {
  const std::string name = Unique("iterated"), counter = Unique("counter");
  ListProxy l = m_.list(name);
  l.append("mine");
  Value::List seen;
  for (Value item : l) {
    seen.push_back(item);
    if (seen.size() == 1) {
      pid_t worker = SpawnWorker(
          {"append", server().address(), server().authkey_file(), name, counter, "2", "7"});
      ASSERT_EQ(WaitWorker(worker), 0);
    }
  }
  EXPECT_EQ(seen, (Value::List{"mine", "w7-0", "w7-1"}));
}

TEST_F(ListTest, ProxyIsSafeFromManyThreads) {
  ListProxy l = m_.list();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([l, t]() mutable {
      for (int i = 0; i < 200; ++i) l.append(t * 1000 + i);
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(l.len(), 1600u);
  // Each thread's items arrive in its own order.
  Value::List items = l.copy();
  std::vector<int> last(8, -1);
  for (const Value& v : items) {
    const int64_t x = v.as_int();
    EXPECT_GT(x % 1000, last[x / 1000]);
    last[x / 1000] = static_cast<int>(x % 1000);
  }
}

}  // namespace
}  // namespace shoal::testing
