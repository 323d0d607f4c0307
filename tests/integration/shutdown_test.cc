// A server shutting down (SIGTERM) while calls are parked: each parked call
// ends with ConnectionError, as the connection does, not as a cancellation.
#include <gtest/gtest.h>

#include <future>
#include <string>

#include "integration/error_of.h"
#include "integration/fixture.h"
#include "integration/waiting.h"

namespace shoal::testing {
namespace {

TEST(ShutdownTest, ParkedGetsAndAcquiresEndWithConnectionError) {
  ServerProcess server;
  const AuthKey key = AuthKey::from_file(server.authkey_file());
  Manager m = Manager::connect(server.address(), key);
  Manager holder = Manager::connect(server.address(), key);
  QueueProxy q = m.Queue(0, "q");
  ASSERT_TRUE(holder.Lock("lock").acquire());
  LockProxy lock = m.Lock("lock");

  auto get = std::async(std::launch::async, [&] { return ErrorOf<ConnectionError>([&] { q.get(); }); });
  auto acquire =
      std::async(std::launch::async, [&] { return ErrorOf<ConnectionError>([&] { lock.acquire(); }); });
  ASSERT_TRUE(AwaitWaiting(m, "q", 1));
  ASSERT_TRUE(AwaitWaiting(m, "lock", 1));

  const int status = server.Stop();  // SIGTERM
  EXPECT_TRUE(WIFEXITED(status));
  const std::string got = get.get();
  const std::string acquired = acquire.get();
  EXPECT_NE(got.find("shutting down"), std::string::npos) << got;
  EXPECT_NE(acquired.find("shutting down"), std::string::npos) << acquired;
}

}  // namespace
}  // namespace shoal::testing
