// Pipelined calls against a real server: async() views and Batch. Results
// and errors arrive per call and in the order the calls were made; a batch
// goes out only when it is sent (or a Future of its whose reply is not in is
// waited on, or it is destroyed).
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "integration/fixture.h"

namespace shoal::testing {
namespace {

class PipelineTest : public ServerTest {
 protected:
  void SetUp() override { m_ = Connect(); }
  Manager m_;
};

TEST_F(PipelineTest, AsyncCallsTakeEffectInTheOrderTheyWereMade) {
  ListProxy l = m_.list();
  std::vector<Future<void>> appended;
  for (int i = 0; i < 1000; ++i) appended.push_back(l.async().append(i));
  // A read sent after the appends sees all of them: one session's calls run
  // in order.
  Future<size_t> length = l.async().len();
  Future<Value> last = l.async().get(-1);
  for (Future<void>& f : appended) f.get();
  EXPECT_EQ(length.get(), 1000u);
  EXPECT_EQ(last.get().as_int(), 999);
  Value::List copy = l.copy();
  ASSERT_EQ(copy.size(), 1000u);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(copy[i].as_int(), i);
}

TEST_F(PipelineTest, EachCallGetsItsOwnResultOrError) {
  DictProxy d = m_.dict();
  ListProxy l = m_.list();
  Batch batch(m_);
  Future<void> set_a = d.async(batch).set("a", 1);
  Future<Value> missing = d.async(batch).item("missing");
  Future<void> set_b = d.async(batch).set("b", 2);
  Future<Value> empty_pop = l.async(batch).pop();
  Future<void> bad_key = d.async(batch).set(Value::List{1}, 3);  // unhashable
  Future<Value> a = d.async(batch).get("a");
  Future<size_t> len = d.async(batch).len();
  EXPECT_EQ(batch.size(), 7u);
  batch.send();
  EXPECT_EQ(batch.size(), 0u);

  EXPECT_NO_THROW(set_a.get());
  EXPECT_THROW(missing.get(), KeyError);
  EXPECT_NO_THROW(set_b.get());
  EXPECT_THROW(empty_pop.get(), IndexError);
  EXPECT_THROW(bad_key.get(), TypeError);
  EXPECT_EQ(a.get().as_int(), 1);
  // The failed calls changed nothing and stopped nothing after them.
  EXPECT_EQ(len.get(), 2u);
  Value::Dict expected;
  expected.set("a", 1);
  expected.set("b", 2);
  EXPECT_EQ(d.copy(), expected);
}

TEST_F(PipelineTest, ABatchGoesOutOnlyWhenSent) {
  ListProxy l = m_.list();
  Batch batch(m_);
  std::vector<Future<void>> appended;
  for (int i = 0; i < 10; ++i) appended.push_back(l.async(batch).append(i));
  // A call made on the same session now runs before the batch: had the
  // batch gone out already, the server would have run its appends first.
  EXPECT_EQ(l.len(), 0u);
  EXPECT_EQ(batch.size(), 10u);
  EXPECT_FALSE(appended.front().ready());
  batch.send();
  for (Future<void>& f : appended) f.get();
  EXPECT_EQ(l.len(), 10u);
}

TEST_F(PipelineTest, AFutureWhoseReplyIsInGivesItAsItCame) {
  ValueProxy v = m_.Value("q", 0);
  ListProxy empty = m_.list();
  std::vector<Future<Value>> added;
  for (int i = 0; i < 5; ++i) added.push_back(v.async().add(1));
  Future<Value> failed = empty.async().pop();
  Future<Value> last = v.async().get();
  // The session answers its calls in order, and the replies before the
  // last one's are in by the time it returns.
  EXPECT_EQ(last.get().as_int(), 5);
  for (Future<Value>& f : added) EXPECT_TRUE(f.ready());
  EXPECT_TRUE(failed.ready());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(added[i].get().as_int(), i + 1);
  EXPECT_THROW(failed.get(), IndexError);
  // Taken once, like a Future whose reply was not in yet.
  EXPECT_FALSE(added[0].valid());
  EXPECT_THROW(added[0].get(), std::future_error);
}

TEST_F(PipelineTest, AFutureWhoseReplyIsInLeavesItsBatchAsItIs) {
  ListProxy l = m_.list();
  Batch batch(m_);
  Future<void> first = l.async(batch).append(1);
  Future<size_t> len = l.async(batch).len();
  batch.send();
  EXPECT_EQ(len.get(), 1u);
  ASSERT_TRUE(first.ready());
  Future<void> later = l.async(batch).append(2);
  // Its call went out long ago: waiting on it sends nothing more.
  first.get();
  EXPECT_EQ(batch.size(), 1u);
  EXPECT_EQ(l.len(), 1u);
  // A Future whose reply is not in sends its batch.
  later.get();
  EXPECT_EQ(batch.size(), 0u);
  EXPECT_EQ(l.len(), 2u);
}

TEST_F(PipelineTest, WaitingOnAFutureSendsItsBatch) {
  ValueProxy v = m_.Value("q", 5);
  Batch batch(m_);
  Future<Value> added = v.async(batch).add(2);
  Future<std::pair<bool, Value>> swapped = v.async(batch).compare_and_swap(7, 10);
  // No send(): get() sends the batch rather than waiting for ever.
  EXPECT_EQ(added.get().as_int(), 7);
  EXPECT_EQ(batch.size(), 0u);
  auto [did_swap, now] = swapped.get();
  EXPECT_TRUE(did_swap);
  EXPECT_EQ(now.as_int(), 10);
}

TEST_F(PipelineTest, ABatchIsSentWhenDestroyed) {
  NamespaceProxy ns = m_.Namespace();
  Future<void> set;
  {
    Batch batch(m_);
    set = ns.async(batch).set("x", "y");
  }
  ASSERT_TRUE(set.wait_for(std::chrono::seconds(30)));
  set.get();
  EXPECT_EQ(ns.get("x").as_str(), "y");
}

TEST_F(PipelineTest, ABatchPastItsSizeLimitGoesOutInSeveralMessages) {
  ListProxy l = m_.list();
  const std::string item(4096, 'x');
  Batch batch(m_);
  std::vector<Future<void>> appended;
  // About 4 MiB in all: several messages, each under the limit.
  for (int i = 0; i < 1000; ++i) appended.push_back(l.async(batch).append(item));
  EXPECT_LT(batch.size(), 1000u);
  batch.send();
  for (Future<void>& f : appended) f.get();
  EXPECT_EQ(l.len(), 1000u);
  EXPECT_EQ(l.count(item), 1000u);
}

TEST_F(PipelineTest, BulkExtendAndUpdateInOneBatch) {
  ListProxy l = m_.list();
  DictProxy d = m_.dict();
  Batch batch(m_);
  std::vector<Future<void>> done;
  for (int chunk = 0; chunk < 10; ++chunk) {
    Value::List items;
    Value::Dict entries;
    for (int i = 0; i < 1000; ++i) {
      items.push_back(chunk * 1000 + i);
      entries.set("k" + std::to_string(chunk * 1000 + i), i);
    }
    done.push_back(l.async(batch).extend(items));
    done.push_back(d.async(batch).update(entries));
  }
  batch.send();
  for (Future<void>& f : done) f.get();
  EXPECT_EQ(l.len(), 10000u);
  EXPECT_EQ(d.len(), 10000u);
  EXPECT_EQ(l.get(-1).as_int(), 9999);
  EXPECT_EQ(d["k1234"].as_int(), 234);
}

TEST_F(PipelineTest, ManyParkedWaitsFromOneThread) {
  EventProxy e = m_.Event();
  QueueProxy q = m_.Queue();
  std::vector<Future<bool>> waits;
  std::vector<Future<Value>> gets;
  for (int i = 0; i < 500; ++i) waits.push_back(e.async().wait());
  for (int i = 0; i < 500; ++i) gets.push_back(q.async().get());
  // Every one is parked on the server; another session wakes them.
  Manager other = Connect();
  other.attach<EventProxy>(e.token()).set();
  QueueProxy q2 = other.attach<QueueProxy>(q.token());
  Batch batch(other);
  for (int i = 0; i < 500; ++i) q2.async(batch).put(i);
  batch.send();
  for (Future<bool>& w : waits) EXPECT_TRUE(w.get());
  // Parked getters are served in the order they parked.
  for (int i = 0; i < 500; ++i) EXPECT_EQ(gets[i].get().as_int(), i);
}

TEST_F(PipelineTest, ABatchFilledFromSeveralThreads) {
  ListProxy l = m_.list();
  Batch batch(m_);
  std::vector<std::thread> threads;
  std::vector<std::vector<Future<void>>> done(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 250; ++i) {
        done[t].push_back(l.async(batch).append(t));
        if (i % 50 == 0) batch.send();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  batch.send();
  for (auto& futures : done) {
    for (Future<void>& f : futures) f.get();
  }
  EXPECT_EQ(l.len(), 1000u);
  for (int t = 0; t < 4; ++t) EXPECT_EQ(l.count(t), 250u);
}

TEST_F(PipelineTest, CallsPendingWhenTheSessionClosesFail) {
  Manager m = Connect();
  QueueProxy q = m.Queue();
  Future<Value> parked = q.async().get();
  m.close();
  EXPECT_THROW(parked.get(), ConnectionError);
  EXPECT_THROW(q.async().put(1).get(), ConnectionError);
}

}  // namespace
}  // namespace shoal::testing
