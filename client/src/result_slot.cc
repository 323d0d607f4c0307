// ResultSlotBase's blocking side. A slot holds no mutex of its own: the rare
// thread that has to block on a slot (its result not there yet) does so on one
// of a few shared mutex and condition variable pairs, picked by the slot's
// address, and the thread that publishes the result takes that pair's mutex
// only when it finds a thread blocked. A waiter marks the slot kWaited with
// the pair's mutex held, so the publisher, which sees the mark, cannot notify
// before the waiter sleeps.
//
// A waiter spins a little first: the results of pipelined calls arrive in
// bursts, one every microsecond or so as the reader thread runs through a
// frame of replies, and a thread that blocked on each of them would cost a
// futex wake-up per call on both sides.
#include <array>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "shoal/pipeline.h"

namespace shoal::detail {
namespace {

struct ParkingSpot {
  std::mutex mu;
  std::condition_variable woken;
};

constexpr size_t kSpots = 64;

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

ParkingSpot& SpotOf(const void* slot) {
  static std::array<ParkingSpot, kSpots> spots;
  // Slots are heap objects, at least 16 bytes apart.
  return spots[(reinterpret_cast<uintptr_t>(slot) >> 4) % kSpots];
}

}  // namespace

void ResultSlotBase::Publish() {
  if (state_.exchange(kReady, std::memory_order_acq_rel) != kWaited) return;
  ParkingSpot& spot = SpotOf(this);
  { std::lock_guard<std::mutex> lock(spot.mu); }
  spot.woken.notify_all();
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
  ParkingSpot& spot = SpotOf(this);
  std::unique_lock<std::mutex> lock(spot.mu);
  int expected = kPending;
  if (!state_.compare_exchange_strong(expected, kWaited, std::memory_order_acq_rel) &&
      expected == kReady) {
    return;
  }
  spot.woken.wait(lock, [this] { return ready(); });
}

bool ResultSlotBase::WaitFor(std::chrono::nanoseconds timeout) {
  if (ready()) return true;
  ParkingSpot& spot = SpotOf(this);
  std::unique_lock<std::mutex> lock(spot.mu);
  int expected = kPending;
  if (!state_.compare_exchange_strong(expected, kWaited, std::memory_order_acq_rel) &&
      expected == kReady) {
    return true;
  }
  return spot.woken.wait_for(lock, timeout, [this] { return ready(); });
}

}  // namespace shoal::detail
