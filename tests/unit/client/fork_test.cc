// The client's fork handlers (client/src/fork.h): what a child forked after
// they are installed inherits of Abseil's process-wide state.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "absl/base/internal/cycleclock.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/src/fork.h"

namespace shoal::detail {
namespace {

// Abseil's Mutex reads the cycle clock's frequency when a thread queues
// behind another waiter, with the Mutex's spin bit held. The first read in a
// process measures it (sleeping for 3 ms or more) under a process-wide once
// flag; a child forked meanwhile must not inherit the flag half done, or its
// first queued waiter waits for ever, holding that Mutex's spin bit.
void ForkWhileTheFrequencyIsMeasured() {
  std::atomic<bool> started{false};
  std::thread measuring([&] {
    started.store(true);
    absl::base_internal::CycleClock::Frequency();
  });
  while (!started.load()) std::this_thread::yield();
  // Inside the measurement, unless this process measured it already.
  absl::SleepFor(absl::Milliseconds(1));
  InstallForkHandlers();
  // The child says it got the frequency on a pipe rather than by its exit
  // status, which ThreadSanitizer changes (the measuring thread is not
  // joined there).
  int done[2];
  if (pipe(done) != 0) std::exit(2);
  const pid_t child = fork();
  if (child == 0) {
    // A child that would wait for ever is ended by SIGALRM.
    alarm(10);
    absl::base_internal::CycleClock::Frequency();
    const char yes = 'y';
    _exit(write(done[1], &yes, 1) == 1 ? 0 : 1);
  }
  close(done[1]);
  char got = 0;
  const bool answered = child > 0 && read(done[0], &got, 1) == 1 && got == 'y';
  if (child > 0) waitpid(child, nullptr, 0);
  measuring.join();
  std::exit(answered ? 0 : 1);
}

TEST(ForkTest, AChildForkedWhileAbseilMeasuresTheCycleClockDoesNotWaitForIt) {
  // A process of its own, in which nothing has read the frequency yet.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(ForkWhileTheFrequencyIsMeasured(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace shoal::detail
