// The server's limits on parked calls, seen through the client library: a
// session may have --max-parked-per-session calls waiting at once, and every
// parked call counts against --max-bytes. A call past either limit fails with
// LimitError naming it; the session, and the others, go on, and once calls
// have left, parking works again.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "integration/error_of.h"
#include "integration/fixture.h"
#include "integration/waiting.h"

namespace shoal::testing {
namespace {

using std::chrono_literals::operator""s;

class ParkedLimitsTest : public ::testing::Test {
 protected:
  static Manager ConnectTo(const ServerProcess& server) {
    return Manager::connect(server.address(), AuthKey::from_file(server.authkey_file()));
  }
};

TEST_F(ParkedLimitsTest, ASessionParksAtMostItsCapAndThenParksAgain) {
  ServerProcess server({"--max-parked-per-session=5"});
  Manager m = ConnectTo(server);
  Manager other = ConnectTo(server);
  QueueProxy q = m.Queue(0, "q");
  LockProxy lock = m.Lock("lock");
  ASSERT_TRUE(other.Lock("lock").acquire());

  std::vector<Future<Value>> gets;
  for (int i = 0; i < 5; ++i) gets.push_back(q.async().get());
  ASSERT_TRUE(AwaitWaiting(m, "q", 5));

  // The sixth parked call of the session fails, whatever it waits on...
  const std::string message = ErrorOf<LimitError>([&] { q.async().get().get(); });
  EXPECT_NE(message.find("--max-parked-per-session (5)"), std::string::npos) << message;
  EXPECT_THROW(lock.acquire(), LimitError);
  EXPECT_TRUE(AwaitWaiting(m, "q", 5));
  EXPECT_TRUE(AwaitWaiting(m, "lock", 0));
  // ... while calls that do not park still work, and another session parks.
  EXPECT_FALSE(lock.acquire(false));
  EXPECT_THROW(q.get(false), Empty);
  Future<Value> others_get = other.Queue(0, "q").async().get();
  ASSERT_TRUE(AwaitWaiting(m, "q", 6));

  // Once the parked calls are answered, the session parks again.
  for (int i = 0; i < 6; ++i) q.put(i);
  for (auto& get : gets) EXPECT_TRUE(get.get().is_int());
  EXPECT_TRUE(others_get.get().is_int());
  std::vector<Future<Value>> again;
  for (int i = 0; i < 5; ++i) again.push_back(q.async().get());
  ASSERT_TRUE(AwaitWaiting(m, "q", 5));
  for (int i = 0; i < 5; ++i) q.put(10 + i);
  for (auto& get : again) EXPECT_GE(get.get().as_int(), 10);

  // A parked call that timed out, or was answered by its deadline, made
  // room too; and so does the end of a session that had calls parked.
  for (int i = 0; i < 5; ++i) EXPECT_THROW(q.get(true, 0.01s), Empty);
  {
    Manager gone = ConnectTo(server);
    QueueProxy theirs = gone.Queue(0, "q");
    std::vector<Future<Value>> parked;
    for (int i = 0; i < 5; ++i) parked.push_back(theirs.async().get());
    ASSERT_TRUE(AwaitWaiting(m, "q", 5));
    EXPECT_THROW(theirs.get(), LimitError);
    gone.close();
    ASSERT_TRUE(AwaitWaiting(m, "q", 0));
  }
  auto acquired = std::async(std::launch::async, [&] { return lock.acquire(); });
  ASSERT_TRUE(AwaitWaiting(m, "lock", 1));
  other.Lock("lock").release();
  EXPECT_TRUE(acquired.get());
}

TEST_F(ParkedLimitsTest, ParkedCallsCountAgainstTheMemoryBudget) {
  // Room for three parked calls (320 bytes each) and no more, across sessions.
  ServerProcess server({"--max-bytes=1000"});
  Manager m = ConnectTo(server);
  Manager other = ConnectTo(server);
  EventProxy event = m.Event("event");
  std::vector<Future<bool>> waits;
  waits.push_back(event.async().wait());
  waits.push_back(event.async().wait());
  waits.push_back(other.Event("event").async().wait());
  ASSERT_TRUE(AwaitWaiting(m, "event", 3));

  std::string message = ErrorOf<LimitError>([&] { event.async().wait().get(); });
  EXPECT_NE(message.find("--max-bytes"), std::string::npos) << message;
  message = ErrorOf<LimitError>([&] { other.Event("event").async().wait().get(); });
  EXPECT_NE(message.find("--max-bytes"), std::string::npos) << message;
  EXPECT_TRUE(AwaitWaiting(m, "event", 3));

  // Answered, they give their bytes back.
  event.set();
  for (auto& wait : waits) EXPECT_TRUE(wait.get());
  event.clear();
  waits.clear();
  for (int i = 0; i < 3; ++i) waits.push_back(event.async().wait());
  ASSERT_TRUE(AwaitWaiting(m, "event", 3));
  event.set();
  for (auto& wait : waits) EXPECT_TRUE(wait.get());
  event.clear();
  waits.clear();

  // So do the calls of a session that ends with them parked.
  {
    Manager gone = ConnectTo(server);
    EventProxy theirs = gone.Event("event");
    std::vector<Future<bool>> parked;
    for (int i = 0; i < 3; ++i) parked.push_back(theirs.async().wait());
    ASSERT_TRUE(AwaitWaiting(m, "event", 3));
    EXPECT_THROW(event.async().wait().get(), LimitError);
    gone.close();
    ASSERT_TRUE(AwaitWaiting(m, "event", 0));
  }
  for (int i = 0; i < 3; ++i) waits.push_back(event.async().wait());
  ASSERT_TRUE(AwaitWaiting(m, "event", 3));
  event.set();
  for (auto& wait : waits) EXPECT_TRUE(wait.get());
}

}  // namespace
}  // namespace shoal::testing
