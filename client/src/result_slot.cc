// ResultSlotBase's blocking side, on a futex on the slot's own state word: a
// slot holds no lock, and neither does anything shared between slots, so a
// process forked while other threads publish or wait on results finds no
// lock held in the child. The thread that publishes a result makes a system
// call only when it finds the waiter's mark (kWaited), which the waiter sets
// before it sleeps on the word; the kernel's check of the word's value
// against kWaited makes a wake-up between the two harmless.
//
// A waiter spins a little first: the results of pipelined calls arrive in
// bursts, one every microsecond or so as the reader thread runs through a
// frame of replies, and a thread that blocked on each of them would cost a
// futex wake-up per call on both sides.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <thread>

#include "shoal/pipeline.h"

namespace shoal::detail {
namespace {

// How many times a waiter looks at a slot before it blocks: first with a
// pause of the processor in between, then giving up its time slice (to the
// reader thread, when both share a core): a few microseconds in all.
constexpr int kBusySpins = 20;
constexpr int kYieldingSpins = 20;

void Relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

static_assert(sizeof(std::atomic<int>) == sizeof(int) && std::atomic<int>::is_always_lock_free,
              "a slot's state word is a futex");

int* Word(std::atomic<int>& state) { return reinterpret_cast<int*>(&state); }

// Sleeps while the word holds expected, at most timeout (none: no limit).
void FutexWait(std::atomic<int>& state, int expected, const timespec* timeout) {
  syscall(SYS_futex, Word(state), FUTEX_WAIT_PRIVATE, expected, timeout, nullptr, 0);
}

void FutexWakeAll(std::atomic<int>& state) {
  syscall(SYS_futex, Word(state), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace

void ResultSlotBase::Publish() {
  if (state_.exchange(kReady, std::memory_order_acq_rel) == kWaited) FutexWakeAll(state_);
}

bool ResultSlotBase::SpinUntilReady() const {
  for (int i = 0; i < kBusySpins; ++i) {
    if (ready()) return true;
    Relax();
  }
  for (int i = 0; i < kYieldingSpins; ++i) {
    if (ready()) return true;
    std::this_thread::yield();
  }
  return ready();
}

void ResultSlotBase::Wait() {
  if (SpinUntilReady()) return;
  int expected = kPending;
  state_.compare_exchange_strong(expected, kWaited, std::memory_order_acq_rel);
  while (!ready()) FutexWait(state_, kWaited, nullptr);
}

bool ResultSlotBase::WaitFor(std::chrono::nanoseconds timeout) {
  if (ready()) return true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int expected = kPending;
  state_.compare_exchange_strong(expected, kWaited, std::memory_order_acq_rel);
  for (;;) {
    if (ready()) return true;
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::nanoseconds::zero()) return ready();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(left);
    timespec relative{};
    relative.tv_sec = static_cast<time_t>(seconds.count());
    relative.tv_nsec = static_cast<long>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(left - seconds).count());
    FutexWait(state_, kWaited, &relative);
  }
}

}  // namespace shoal::detail
