#include "integration/waiting.h"

#include <thread>

namespace shoal::testing {

::testing::AssertionResult AwaitWaiting(const std::string& what, int64_t want,
                                        const std::function<int64_t()>& waiting_now) {
  const auto deadline = std::chrono::steady_clock::now() + kParkPatience;
  for (;;) {
    const int64_t waiting = waiting_now();
    if (waiting == want) return ::testing::AssertionSuccess();
    if (std::chrono::steady_clock::now() >= deadline) {
      return ::testing::AssertionFailure()
             << what << " had " << waiting << " waiting calls, not " << want << ", after "
             << kParkPatience.count() << " s";
    }
    std::this_thread::yield();
  }
}

::testing::AssertionResult AwaitWaiting(const Manager& m, const ObjectProxy& object,
                                        int64_t want) {
  return AwaitWaiting(object.token(), want, [&] { return m.describe(object.id()).waiting; });
}

::testing::AssertionResult AwaitWaiting(const Manager& m, const std::string& name,
                                        int64_t want) {
  return AwaitWaiting(name, want, [&] { return m.describe(name).waiting; });
}

}  // namespace shoal::testing
