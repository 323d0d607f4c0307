// NamespaceProxy and ValueProxy against a real server.
#include <thread>

#include "integration/fixture.h"

namespace shoal::testing {
namespace {

class NamespaceValueTest : public ServerTest {
 protected:
  void SetUp() override { m_ = Connect(); }
  Manager m_;
};

TEST_F(NamespaceValueTest, NamespaceAttributes) {
  NamespaceProxy ns = m_.Namespace();
  ns.set("b", "x");
  ns.set("a", 1);
  EXPECT_EQ(ns.get("a").as_int(), 1);
  EXPECT_THROW(ns.get("missing"), AttributeError);
  EXPECT_EQ(ns.str(), "Namespace(a=1, b='x')");
  auto attrs = ns.attrs();
  ASSERT_EQ(attrs.size(), 2u);
  EXPECT_EQ(attrs[0].first, "a");
  ns.del("a");
  EXPECT_THROW(ns.del("a"), AttributeError);
  EXPECT_EQ(ns.str(), "Namespace(b='x')");
}

TEST_F(NamespaceValueTest, NamespacePrintsExactlyAsPython) {
  // Python sorts the "name=value" strings, not the names:
  //   print(Namespace(x=1, x1=2))  ->  Namespace(x1=2, x=1)
  NamespaceProxy ns = m_.Namespace();
  ns.set("x", 1);
  ns.set("x1", 2);
  EXPECT_EQ(ns.str(), "Namespace(x1=2, x=1)");
  EXPECT_EQ(ns.repr(), "Namespace(x1=2, x=1)");
  // print(Namespace(x=1, x1=2, _h=3, B='s', a_b=[1, 'a'], ab=None, a=True))
  ns.set("_h", 3);
  ns.set("B", "s");
  ns.set("a_b", Value::List{1, "a"});
  ns.set("ab", Value());
  ns.set("a", true);
  EXPECT_EQ(ns.str(), "Namespace(B='s', a=True, a_b=[1, 'a'], ab=None, x1=2, x=1)");
  // The server's rendering, as listings show it, is the same.
  bool listed = false;
  for (const ObjectInfo& info : m_.objects()) {
    if (info.id != ns.id()) continue;
    listed = true;
    EXPECT_EQ(info.repr, ns.str());
  }
  EXPECT_TRUE(listed);
}

TEST_F(NamespaceValueTest, ValueGetSetAndTypecode) {
  ValueProxy v = m_.Value("i", 5);
  EXPECT_EQ(v.get().as_int(), 5);
  EXPECT_EQ(v.typecode(), "i");
  v.set(7);
  EXPECT_EQ(v.value().as_int(), 7);
  EXPECT_THROW(v.set("seven"), TypeError);
  EXPECT_EQ(v.get().as_int(), 7);
  EXPECT_EQ(v.str(), "Value('i', 7)");
  EXPECT_THROW(m_.Value("i", "text"), TypeError);
  EXPECT_THROW(m_.Value("?x", 1), ValueError);
  ValueProxy f = m_.Value("d", 1);
  EXPECT_TRUE(f.get().is_float());
}

TEST_F(NamespaceValueTest, ValueOutOfRangeIsOverflowErrorAndWrongTypeTypeError) {
  ValueProxy v = m_.Value("b", 5);
  EXPECT_THROW(v.set(128), OverflowError);
  EXPECT_THROW(v.set(-129), OverflowError);
  EXPECT_THROW(v.set(1.5), TypeError);
  EXPECT_THROW(v.add(123), OverflowError);
  EXPECT_THROW(v.compare_and_swap(5, 1000), OverflowError);
  EXPECT_EQ(v.get().as_int(), 5);  // nothing failed changed it
  EXPECT_THROW(m_.Value("B", -1), OverflowError);
  EXPECT_THROW(m_.Value("I", int64_t{1} << 32), OverflowError);
  EXPECT_THROW(m_.Value("i", 2.0), TypeError);
}

TEST_F(NamespaceValueTest, AtomicAddAndCompareAndSwap) {
  ValueProxy v = m_.Value("q", 0);
  EXPECT_EQ(v.add(5).as_int(), 5);
  EXPECT_EQ(v.add(-2).as_int(), 3);
  EXPECT_THROW(v.add("x"), TypeError);
  EXPECT_THROW(v.add(0.5), TypeError);  // an int typecode stays int
  Value current;
  EXPECT_FALSE(v.compare_and_swap(1, 10, &current));
  EXPECT_EQ(current.as_int(), 3);
  EXPECT_TRUE(v.compare_and_swap(3, 10, &current));
  EXPECT_EQ(current.as_int(), 10);
  ValueProxy any = m_.Value("", 1);
  EXPECT_EQ(any.add(0.5).as_float(), 1.5);  // untyped follows Python: int + float is float
  ValueProxy big = m_.Value("q", int64_t{9223372036854775807});
  EXPECT_THROW(big.add(1), OverflowError);
  EXPECT_EQ(big.get().as_int(), int64_t{9223372036854775807});
}

TEST_F(NamespaceValueTest, ConcurrentAddsAreAtomic) {
  ValueProxy v = m_.Value("q", 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([v]() mutable {
      for (int i = 0; i < 250; ++i) v.add(1);
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(v.get().as_int(), 1000);
}

}  // namespace
}  // namespace shoal::testing
