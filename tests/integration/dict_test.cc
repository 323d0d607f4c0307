// Every DictProxy operation against a real server, with Python's results.
#include "integration/fixture.h"

namespace shoal::testing {
namespace {

class DictTest : public ServerTest {
 protected:
  void SetUp() override { m_ = Connect(); }
  Manager m_;
};

TEST_F(DictTest, GetSetDeleteContains) {
  DictProxy d = m_.dict();
  d.set("a", 1);
  d.set(2, "two");
  d.set(Value::bytes("b"), 3.5);
  EXPECT_EQ(d["a"].as_int(), 1);
  EXPECT_EQ(d[2.0].as_str(), "two");  // 2 and 2.0 are one key
  EXPECT_THROW(d["missing"], KeyError);
  EXPECT_TRUE(d.get("missing").is_none());
  EXPECT_EQ(d.get("missing", 7).as_int(), 7);
  EXPECT_TRUE(d.contains("a"));
  EXPECT_FALSE(d.contains("b"));  // str 'b' is not bytes b'b'
  d.del("a");
  EXPECT_THROW(d.del("a"), KeyError);
  EXPECT_EQ(d.len(), 2u);
  EXPECT_EQ(d.str(), "{2: 'two', b'b': 3.5}");
}

TEST_F(DictTest, ViewsKeepInsertionOrder) {
  DictProxy d = m_.dict();
  d.set("z", 1);
  d.set("a", 2);
  d.set("m", 3);
  d.set("z", 4);  // overwriting keeps the position
  EXPECT_EQ(d.keys(), (Value::List{"z", "a", "m"}));
  EXPECT_EQ(d.values(), Ints({4, 2, 3}));
  auto items = d.items();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].first.as_str(), "z");
  EXPECT_EQ(items[0].second.as_int(), 4);
  EXPECT_EQ(items[2].first.as_str(), "m");
}

TEST_F(DictTest, SetdefaultPopPopitemUpdate) {
  DictProxy d = m_.dict({{"a", 1}});
  EXPECT_EQ(d.setdefault("a", 5).as_int(), 1);
  EXPECT_EQ(d.setdefault("b", 5).as_int(), 5);
  EXPECT_TRUE(d.setdefault("c").is_none());
  EXPECT_EQ(d.pop("c").is_none(), true);
  EXPECT_THROW(d.pop("c"), KeyError);
  EXPECT_EQ(d.pop("c", "fallback").as_str(), "fallback");
  d.update({{"x", 10}, {"a", 11}});
  EXPECT_EQ(d.keys(), (Value::List{"a", "b", "x"}));
  auto last = d.popitem();
  EXPECT_EQ(last.first.as_str(), "x");
  EXPECT_EQ(last.second.as_int(), 10);
  d.clear();
  EXPECT_THROW(d.popitem(), KeyError);
  EXPECT_EQ(d.len(), 0u);
}

TEST_F(DictTest, UnhashableKeyIsTypeError) {
  DictProxy d = m_.dict({{"keep", 1}});
  EXPECT_THROW(d.set(Value::list({1}), 1), TypeError);
  EXPECT_THROW(d.get(Value::dict({})), TypeError);
  EXPECT_THROW(d.contains(Value::list({})), TypeError);
  // An update with one bad key stores none of its entries.
  EXPECT_THROW(d.update({{"new", 1}, {Value::list({}), 2}}), TypeError);
  EXPECT_EQ(d.keys(), (Value::List{"keep"}));
}

TEST_F(DictTest, CopyIsAPlainValue) {
  DictProxy d = m_.dict({{"a", Value::list({1, 2})}});
  Value::Dict copy = d.copy();
  ASSERT_TRUE(copy.contains("a"));
  EXPECT_EQ(*copy.find("a"), Value::list({1, 2}));
}

TEST_F(DictTest, NamedDictIsGetOrCreate) {
  const std::string name = Unique("results");
  DictProxy first = m_.dict(name);
  first.set("k", 42);
  DictProxy again = Connect().dict(name);
  EXPECT_EQ(again.get("k", 0).as_int(), 42);
  EXPECT_THROW(m_.list(name), TypeError);
}

}  // namespace
}  // namespace shoal::testing
