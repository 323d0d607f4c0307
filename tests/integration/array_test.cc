// ArrayProxy against a real server: Python's Array across processes, its
// typecodes and errors, concurrent writers, and the byte limit.
#include <atomic>
#include <cmath>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "integration/fixture.h"

namespace shoal::testing {
namespace {

class ArrayTest : public ServerTest {
 protected:
  void SetUp() override { m_ = Connect(); }
  Manager m_;
};

// [0, 1, ..., n - 1], Python's range(n).
Value::List Range(int n) {
  Value::List items;
  for (int i = 0; i < n; ++i) items.push_back(i);
  return items;
}

TEST_F(ArrayTest, MadeFromItemsOrALength) {
  ArrayProxy ints = m_.Array("i", {1, 2, 3});
  EXPECT_EQ(ints.len(), 3u);
  EXPECT_EQ(ints.typecode(), "i");
  EXPECT_EQ(ints.tolist(), Ints({1, 2, 3}));
  EXPECT_EQ(ints.str(), "array('i', [1, 2, 3])");
  EXPECT_EQ(ints.kind(), Kind::kArray);

  ArrayProxy zeros = m_.Array("d", 10);
  EXPECT_EQ(zeros.len(), 10u);
  for (const Value& item : zeros.tolist()) {
    EXPECT_TRUE(item.is_float());
    EXPECT_EQ(item.as_float(), 0.0);
  }
  // A braced list of one int is that item, as Python's Array('i', [5]).
  EXPECT_EQ(m_.Array("q", {5}).tolist(), Ints({5}));
}

TEST_F(ArrayTest, NamedArrayIsSharedByName) {
  ArrayProxy mine = m_.Array("h", Range(4), Unique("shared"));
  Manager other = Connect();
  // Get-or-create: the existing Array, whatever the other call asks for.
  ArrayProxy theirs = other.Array("h", 2, Unique("shared"));
  EXPECT_EQ(theirs.id(), mine.id());
  theirs.set(0, 40);
  EXPECT_EQ(mine[0].as_int(), 40);
  EXPECT_EQ(mine.len(), 4u);
  EXPECT_THROW(other.list(Unique("shared")), TypeError);
}

TEST_F(ArrayTest, ItemsAndSlicesWithPythonsIndexes) {
  ArrayProxy a = m_.Array("l", Range(10));
  EXPECT_EQ(a[-1].as_int(), 9);
  EXPECT_EQ(a.get(-10).as_int(), 0);
  a.set(-2, 80);
  EXPECT_EQ(a[8].as_int(), 80);
  EXPECT_EQ(a.slice(2, 5), Ints({2, 3, 4}));
  EXPECT_EQ(a.slice(-3, std::nullopt), Ints({7, 80, 9}));
  EXPECT_EQ(a.slice(std::nullopt, std::nullopt, 4), Ints({0, 4, 80}));
  EXPECT_EQ(a.slice(std::nullopt, std::nullopt).size(), 10u);  // arr[:]
  a.set_slice(0, 3, {-1, -2, -3});
  a.set_slice(std::nullopt, std::nullopt, -3, {90, 60, 30, 0});
  EXPECT_EQ(a.tolist(), Ints({0, -2, -3, 30, 4, 5, 60, 7, 80, 90}));

  EXPECT_THROW(a.get(10), IndexError);
  EXPECT_THROW(a[-11], IndexError);
  EXPECT_THROW(a.set(10, 1), IndexError);
  // The length is fixed: a slice takes exactly as many items as it spans.
  EXPECT_THROW(a.set_slice(0, 3, {1, 2}), ValueError);
  EXPECT_THROW(a.set_slice(0, 3, {1, 2, 3, 4}), ValueError);
  EXPECT_THROW(a.slice(std::nullopt, std::nullopt, 0), ValueError);
  EXPECT_EQ(a.len(), 10u);
  EXPECT_EQ(a.tolist(), Ints({0, -2, -3, 30, 4, 5, 60, 7, 80, 90}));
}

TEST_F(ArrayTest, WrongTypeIsTypeErrorAndOutOfRangeOverflowError) {
  ArrayProxy a = m_.Array("i", {1, 2});
  EXPECT_THROW(a.set(0, "one"), TypeError);
  // As multiprocessing.Array('i', 3)[0] = 1.5 does.
  EXPECT_THROW(a.set(0, 1.5), TypeError);
  EXPECT_THROW(a.set(0, Value()), TypeError);
  a.set(0, true);  // Python's bool is an int
  EXPECT_EQ(a[0], Value(1));
  EXPECT_TRUE(a[0].is_int());
  EXPECT_THROW(a.set(1, int64_t{1} << 31), OverflowError);
  EXPECT_THROW(a.set(1, -(int64_t{1} << 31) - 1), OverflowError);
  EXPECT_THROW(a.set_slice(0, 2, {3, int64_t{1} << 40}), OverflowError);
  EXPECT_EQ(a.tolist(), Ints({1, 2}));  // nothing that failed was stored
  ArrayProxy bytes = m_.Array("B", 2);
  EXPECT_THROW(bytes.set(0, 256), OverflowError);
  EXPECT_THROW(bytes.set(0, -1), OverflowError);
  bytes.set(1, 255);
  EXPECT_EQ(bytes.tolist(), Ints({0, 255}));
  ArrayProxy doubles = m_.Array("d", 1);
  EXPECT_THROW(doubles.set(0, "1.0"), TypeError);
  doubles.set(0, 2);  // an int is a number
  EXPECT_TRUE(doubles[0].is_float());
}

TEST_F(ArrayTest, CreationErrorsCreateNothing) {
  const size_t before = m_.object_count();
  // Python: "bad typecode (must be b, B, u, h, H, i, I, l, L, q, Q, f or d)"
  try {
    m_.Array("x", 3);
    ADD_FAILURE() << "a bad typecode was taken";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("bad typecode"), std::string::npos) << e.what();
  }
  EXPECT_THROW(m_.Array("?", 3), ValueError);  // a Value typecode, not an array one
  EXPECT_THROW(m_.Array("i", -1), ValueError);
  EXPECT_THROW(m_.Array("i", {1, "two", 3}), TypeError);
  EXPECT_THROW(m_.Array("b", {1, 2, 300}), OverflowError);
  EXPECT_THROW(m_.Array("i", {1, 2.5}, Unique("refused")), TypeError);
  EXPECT_THROW(m_.describe(Unique("refused")), KeyError);
  // Objects of the suite's earlier sessions may still be going, never coming.
  EXPECT_LE(m_.object_count(), before);
}

TEST_F(ArrayTest, FloatIsStoredAsFloat32) {
  ArrayProxy single = m_.Array("f", {0.1, 3.1415927});
  // ctypes.c_float(0.1).value and array('f', [0.1])[0] in Python.
  EXPECT_EQ(single[0].as_float(), 0.10000000149011612);
  EXPECT_EQ(single[1].as_float(), static_cast<double>(3.1415927f));
  EXPECT_NE(single[1].as_float(), 3.1415927);
  ArrayProxy twice = m_.Array("d", {0.1});
  EXPECT_EQ(twice[0].as_float(), 0.1);
}

TEST_F(ArrayTest, UnicodeTypecodeHoldsCharacters) {
  ArrayProxy chars = m_.Array("u", {"h", "\xc3\xa9", "!"});
  EXPECT_EQ(chars.str(), "array('u', 'h\xc3\xa9!')");
  chars.set(2, "\xf0\x9f\x90\x9f");
  EXPECT_EQ(chars[2].as_str(), "\xf0\x9f\x90\x9f");
  EXPECT_THROW(chars.set(0, "ab"), TypeError);
  EXPECT_THROW(chars.set(0, 104), TypeError);
  EXPECT_EQ(m_.Array("u", 2).tolist(), Value::List(2, Value(std::string(1, '\0'))));
}

TEST_F(ArrayTest, DescribeAndListingsShowTypecodeAndLength) {
  ArrayProxy a = m_.Array("H", Range(6), Unique("listed"));
  ObjectInfo info = m_.describe(Unique("listed"));
  EXPECT_EQ(info.kind, Kind::kArray);
  EXPECT_EQ(info.typecode, "H");
  EXPECT_EQ(info.size, 6);
  EXPECT_EQ(info.repr, "array('H', [0, 1, 2, 3, 4, 5])");
  EXPECT_TRUE(info.holders.empty());
  bool listed = false;
  for (const ObjectInfo& object : m_.objects()) {
    if (object.id != a.id()) continue;
    listed = true;
    EXPECT_EQ(object.typecode, "H");
    EXPECT_EQ(object.size, 6);
  }
  EXPECT_TRUE(listed);
}

TEST_F(ArrayTest, ReachedByTokenAndFromInsideADict) {
  ArrayProxy a = m_.Array("i", {7, 8});
  Manager other = Connect();
  ArrayProxy attached = other.attach<ArrayProxy>(a.token());
  EXPECT_EQ(a.token().rfind("Array:", 0), 0u) << a.token();
  attached.set(0, 70);
  EXPECT_EQ(a[0].as_int(), 70);
  EXPECT_THROW(other.attach<ListProxy>(a.token()), TypeError);
  DictProxy d = m_.dict();
  d.set("samples", a);
  ArrayProxy nested(d["samples"]);
  EXPECT_EQ(nested.id(), a.id());
  EXPECT_EQ(nested.tolist(), Ints({70, 8}));
}

TEST_F(ArrayTest, PipelinedCallsKeepTheirOrder) {
  ArrayProxy a = m_.Array("q", 3);
  Batch batch(m_);
  a.async(batch).set(0, 1);
  a.async(batch).set_slice(1, 3, {2, 3});
  Future<Value::List> all = a.async(batch).tolist();
  Future<std::string> code = a.async(batch).typecode();
  Future<Value> bad = a.async(batch).get(5);
  batch.send();
  EXPECT_EQ(all.get(), Ints({1, 2, 3}));
  EXPECT_EQ(code.get(), "q");
  EXPECT_THROW(bad.get(), IndexError);
}

// Python's seeds: num = Value('d', 0.0); arr = Array('i', range(10)); a child
// process sets num.value = 3.1415927 and negates every item.
TEST_F(ArrayTest, AChildProcessNegatesTheItemsByToken) {
  ValueProxy num = m_.Value("d", 0.0);
  ArrayProxy arr = m_.Array("i", Range(10));
  pid_t child =
      SpawnWorker({"negate", server().address(), server().authkey_file(), num.token(), arr.token()});
  ASSERT_EQ(WaitWorker(child), 0);
  EXPECT_EQ(num.get().as_float(), 3.1415927);
  EXPECT_EQ(arr.slice(std::nullopt, std::nullopt), Ints({0, -1, -2, -3, -4, -5, -6, -7, -8, -9}));
}

// The same with the seeds' Process: the child is forked and uses the
// proxies it inherited.
TEST_F(ArrayTest, AForkedProcessNegatesTheItemsItInherited) {
  ValueProxy num = m_.Value("d", 0.0);
  ArrayProxy arr = m_.Array("i", Range(10));
  Process p([num, arr]() mutable {
    num.set(3.1415927);
    for (int64_t i = 0; i < static_cast<int64_t>(arr.len()); ++i) arr.set(i, -arr[i].as_int());
  });
  p.start();
  p.join();
  ASSERT_EQ(p.exitcode(), 0);
  EXPECT_EQ(num.get().as_float(), 3.1415927);
  EXPECT_EQ(arr.tolist(), Ints({0, -1, -2, -3, -4, -5, -6, -7, -8, -9}));
}

TEST_F(ArrayTest, ConcurrentWritersFromSeveralProcessesLoseNoWrite) {
  constexpr int kWorkers = 4;
  constexpr int kRounds = 50;
  constexpr int kLength = 64;
  ArrayProxy arr = m_.Array("i", kLength);
  std::vector<pid_t> pids;
  for (int w = 0; w < kWorkers; ++w) {
    pids.push_back(SpawnWorker({"array-writer", server().address(), server().authkey_file(),
                                arr.token(), std::to_string(w), std::to_string(kWorkers),
                                std::to_string(kRounds)}));
  }
  for (pid_t pid : pids) EXPECT_EQ(WaitWorker(pid), 0);
  // Each item holds the last round of the one process that wrote it.
  Value::List expected;
  for (int i = 0; i < kLength; ++i) expected.push_back((i % kWorkers) * 1000 + kRounds - 1);
  EXPECT_EQ(arr.tolist(), expected);
}

TEST_F(ArrayTest, SliceWritesFromSeveralClientsAreAtomic) {
  constexpr int kWriters = 3;
  constexpr int kLength = 32;
  const std::string name = Unique("uniform");
  ArrayProxy arr = m_.Array("b", kLength, name);
  std::atomic<int> writers_done{0};
  std::vector<std::thread> writers;
  for (int w = 1; w <= kWriters; ++w) {
    writers.emplace_back([w, &name, &writers_done] {
      // A client of its own: a session of its own.
      Manager mine = Connect();
      ArrayProxy a = mine.Array("b", kLength, name);
      for (int round = 0; round < 100; ++round) {
        a.set_slice(std::nullopt, std::nullopt, Value::List(kLength, w));
      }
      writers_done.fetch_add(1);
    });
  }
  // Every read sees one writer's whole slice, never a mix.
  int reads = 0;
  int torn = 0;
  do {
    const Value::List seen = arr.tolist();
    for (const Value& item : seen) torn += item != seen[0];
    ++reads;
  } while (writers_done.load() < kWriters);
  for (std::thread& writer : writers) writer.join();
  EXPECT_EQ(torn, 0);
  EXPECT_GT(reads, 0);
  const Value last = arr[0];
  EXPECT_EQ(arr.tolist(), Value::List(kLength, last));
}

TEST(ArrayLimitTest, AHugeArrayIsLimitErrorAndTheServerGoesOn) {
  ServerProcess server({"--max-bytes=1048576"});
  Manager m = Manager::connect(server.address(), AuthKey::from_file(server.authkey_file()));
  // 8 MiB of doubles against 1 MiB: refused before anything is allocated.
  try {
    m.Array("d", 1 << 20);
    ADD_FAILURE() << "an Array past --max-bytes was made";
  } catch (const LimitError& e) {
    EXPECT_NE(std::string(e.what()).find("memory limit"), std::string::npos) << e.what();
  }
  EXPECT_THROW(m.Array("q", int64_t{1} << 62), LimitError);
  EXPECT_EQ(m.object_count(), 0u);
  // What fits is charged compactly: 100,000 doubles in 1 MiB.
  ArrayProxy fits = m.Array("d", 100000);
  fits.set(-1, 2.5);
  EXPECT_EQ(fits[99999].as_float(), 2.5);
  EXPECT_THROW(m.Array("d", 100000), LimitError);
  EXPECT_EQ(fits.len(), 100000u);
}

TEST(ArrayLimitTest, AReadPastTheMessageLimitIsLimitErrorAndSlicesReadIt) {
  ServerProcess server({"--max-message-bytes=65536"});
  Manager m = Manager::connect(server.address(), AuthKey::from_file(server.authkey_file()));
  ArrayProxy big = m.Array("b", 100000);
  big.set(-1, 7);
  EXPECT_THROW(big.tolist(), LimitError);
  EXPECT_THROW(big.slice(std::nullopt, std::nullopt), LimitError);
  // Read in slices, as the error says.
  size_t read = 0;
  for (int64_t start = 0; start < 100000; start += 5000) {
    Value::List part = big.slice(start, start + 5000);
    read += part.size();
    if (start + 5000 == 100000) EXPECT_EQ(part.back().as_int(), 7);
  }
  EXPECT_EQ(read, 100000u);
  EXPECT_EQ(big.len(), 100000u);
}

}  // namespace
}  // namespace shoal::testing
