// Every DictProxy operation against a real server, with Python's results.
#include <functional>
#include <string>

#include "integration/fixture.h"
#include "integration/raw_client.h"
#include "integration/server_process.h"
#include "shoal/v1/dict.pb.h"

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

TEST_F(DictTest, IterationVisitsTheKeysInInsertionOrder) {
  DictProxy d = m_.dict({{"z", 1}, {2, "b"}, {"a", 3}});
  Value::List seen;
  for (Value key : d) seen.push_back(key);
  EXPECT_EQ(seen, (Value::List{"z", 2, "a"}));
  EXPECT_EQ(Value::List(d.begin(), d.end()), seen);
  DictProxy::iterator it = d.begin();
  EXPECT_EQ(it->as_str(), "z");
  EXPECT_EQ((*it++).as_str(), "z");
  EXPECT_EQ(it->as_int(), 2);
  EXPECT_NE(it, d.end());
  DictProxy empty = m_.dict();
  EXPECT_EQ(empty.begin(), empty.end());

  // New values for its keys do not disturb an iteration.
  seen.clear();
  for (Value key : d) {
    seen.push_back(key);
    d.set(key, "visited");
  }
  EXPECT_EQ(seen, (Value::List{"z", 2, "a"}));
  EXPECT_EQ(d.values(), (Value::List{"visited", "visited", "visited"}));
}

TEST_F(DictTest, IterationKeysMayBeReferences) {
  ListProxy inner = m_.list();
  DictProxy d = m_.dict();
  d.set("before", 1);
  d.set(inner, "a list as a key");
  d.set("after", 2);
  Value::List seen;
  for (Value key : d) seen.push_back(key);
  ASSERT_EQ(seen.size(), 3u);
  ListProxy(seen[1]).append("through the key");
  EXPECT_EQ(inner.copy(), (Value::List{"through the key"}));
  EXPECT_EQ(seen[2].as_str(), "after");
}

// As Python's: adding or removing a key while iterating is RuntimeError at the
// next step, whoever made the change.
TEST_F(DictTest, IterationAfterTheDictChangedSizeIsRuntimeError) {
  DictProxy d = m_.dict({{"a", 1}, {"b", 2}, {"c", 3}});
  auto iterate_changing = [&](const std::function<void()>& change) {
    Value::List seen;
    try {
      for (Value key : d) {
        seen.push_back(key);
        if (seen.size() == 1) change();
      }
    } catch (const RuntimeError& e) {
      EXPECT_EQ(std::string(e.what()), "dictionary changed size during iteration");
      return seen;
    }
    ADD_FAILURE() << "no RuntimeError";
    return seen;
  };
  EXPECT_EQ(iterate_changing([&] { d.set("new", 0); }), (Value::List{"a"}));
  EXPECT_EQ(iterate_changing([&] { d.del("new"); }), (Value::List{"a"}));
  Manager other = Connect();
  DictProxy theirs = other.attach<DictProxy>(d.token());
  EXPECT_EQ(iterate_changing([&] { theirs.pop("c"); }), (Value::List{"a"}));

  // Keys that came and went, the size as it was.
  Value::List seen;
  EXPECT_THROW(
      {
        for (Value key : d) {
          seen.push_back(key);
          theirs.del("a");
          theirs.set("a", 1);
        }
      },
      RuntimeError);
  EXPECT_EQ(seen, (Value::List{"a"}));
}

// Another process adds a key while this one iterates.
TEST_F(DictTest, IterationAfterAnotherProcessAddedAKeyIsRuntimeError) {
  DictProxy d = m_.dict({{"a", 1}, {"b", 2}});
  DictProxy::iterator it = d.begin();
  EXPECT_EQ(it->as_str(), "a");
  pid_t worker =
      SpawnWorker({"set-key", server().address(), server().authkey_file(), d.token(), "worker"});
  ASSERT_EQ(WaitWorker(worker), 0);
  EXPECT_THROW(++it, RuntimeError);
  // A new iteration sees the key.
  EXPECT_EQ(Value::List(d.begin(), d.end()), (Value::List{"a", "b", "worker"}));
}

TEST_F(DictTest, NamedDictIsGetOrCreate) {
  const std::string name = Unique("results");
  DictProxy first = m_.dict(name);
  first.set("k", 42);
  DictProxy again = Connect().dict(name);
  EXPECT_EQ(again.get("k", 0).as_int(), 42);
  EXPECT_THROW(m_.list(name), TypeError);
}

// The server reads Update's entries from the wire itself: every kind of key
// and value comes out as it went in.
TEST_F(DictTest, UpdateTakesEveryKindOfValue) {
  DictProxy d = m_.dict();
  ListProxy held = m_.list({1});
  const Value nested = Value::dict({{"in", Value::list({1, Value::bytes("b")})}});
  d.update({{Value(), 1},
            {true, -5},
            {-7, 2.5},
            {1.5, "str \xc3\xa9"},
            {"k\xc3\xa9y", Value::bytes(std::string("\x00\xff", 2))},
            {Value::bytes("b"), Value::list({1, "two", Value()})},
            {"nested", nested},
            {"ref", held}});
  EXPECT_EQ(d.len(), 8u);
  EXPECT_TRUE(d[Value()].as_int() == 1);
  EXPECT_EQ(d[true], Value(-5));
  EXPECT_EQ(d[-7], Value(2.5));
  EXPECT_EQ(d[1.5], Value("str \xc3\xa9"));
  EXPECT_EQ(d["k\xc3\xa9y"], Value::bytes(std::string("\x00\xff", 2)));
  EXPECT_EQ(d[Value::bytes("b")], Value::list({1, "two", Value()}));
  EXPECT_EQ(d["nested"], nested);
  // The reference is counted: the list lives on through the dict.
  ListProxy through(d["ref"]);
  through.append(2);
  EXPECT_EQ(held.copy(), (Value::List{1, 2}));
}

// Malformed entries on the wire: a str key that is not UTF-8, an entry
// cut short. Each is a ValueError, and the dict keeps what it held. A key
// given twice is merged, as protobuf merges a message field given twice.
TEST_F(DictTest, MalformedUpdateEntriesAreRefusedAndStoreNothing) {
  const std::string name = Unique("dict");
  DictProxy d = m_.dict({{"keep", 1}}, name);
  RawClient raw(server().address());
  RawStream stream(raw.channel(), raw.Login(server().authkey()));
  auto request = [&](const std::string& entries) {
    v1::UpdateRequest r;
    r.set_name(name);
    return r.SerializeAsString() + entries;
  };
  // Entry (field 3) of key str "\xff" (field 1, Value field 5) and value int 1.
  const std::string bad_utf8 = std::string("\x1a\x07\x0a\x03\x2a\x01\xff\x12\x00", 9);
  const std::string cut_short = std::string("\x1a\x09\x0a\x03\x2a\x01", 6);
  // Key int 1, then key str "a": merged into the str.
  const std::string twice = std::string("\x1a\x0b\x0a\x02\x10\x01\x0a\x03\x2a\x01\x61\x12\x00", 13);
  const uint64_t a = stream.AddBytes("/shoal.v1.DictService/Update", request(bad_utf8));
  const uint64_t b = stream.AddBytes("/shoal.v1.DictService/Update", request(cut_short));
  const uint64_t c = stream.AddBytes("/shoal.v1.DictService/Update", request(twice));
  ASSERT_TRUE(stream.Send());
  ASSERT_TRUE(stream.Receive(3));
  EXPECT_EQ(stream.reply(a).error_kind(), "ValueError") << stream.reply(a).error_message();
  EXPECT_EQ(stream.reply(b).error_kind(), "ValueError") << stream.reply(b).error_message();
  EXPECT_EQ(stream.reply(c).code(), 0) << stream.reply(c).error_message();
  EXPECT_EQ(d.keys(), (Value::List{"keep", "a"}));
  EXPECT_TRUE(d["a"].is_none());
}

}  // namespace
}  // namespace shoal::testing
