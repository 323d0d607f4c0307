// ResultSlot (shoal/pipeline.h): where a call's result is delivered for its
// Future, set by one thread and waited for by another.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "shoal/pipeline.h"

namespace shoal::detail {
namespace {

using namespace std::chrono_literals;

TEST(ResultSlotTest, AValueSetBeforeTheWaitIsTakenAtOnce) {
  ResultSlot<std::string> slot;
  EXPECT_FALSE(slot.ready());
  slot.set_value("done");
  EXPECT_TRUE(slot.ready());
  slot.Wait();
  EXPECT_TRUE(slot.WaitFor(0ns));
  EXPECT_EQ(slot.Take(), "done");
}

TEST(ResultSlotTest, AnErrorIsRethrownByTake) {
  ResultSlot<int> slot;
  slot.set_exception(std::make_exception_ptr(std::runtime_error("boom")));
  EXPECT_TRUE(slot.ready());
  EXPECT_THROW(slot.Take(), std::runtime_error);
  ResultSlot<void> nothing;
  nothing.set_exception(std::make_exception_ptr(std::logic_error("void boom")));
  EXPECT_THROW(nothing.Take(), std::logic_error);
}

TEST(ResultSlotTest, WaitForTimesOutWhileNothingIsSet) {
  ResultSlot<int> slot;
  EXPECT_FALSE(slot.WaitFor(20ms));
  EXPECT_FALSE(slot.ready());
  slot.set_value(7);
  EXPECT_TRUE(slot.WaitFor(0ns));
  EXPECT_EQ(slot.Take(), 7);
}

// A thread blocked in Wait (past its spinning) is woken by the value.
TEST(ResultSlotTest, ABlockedWaiterIsWokenByTheValue) {
  auto slot = std::make_shared<ResultSlot<int>>();
  std::promise<void> waiting;
  std::thread waiter([&] {
    waiting.set_value();
    slot->Wait();
    EXPECT_EQ(slot->Take(), 42);
  });
  waiting.get_future().wait();
  // Whether the waiter is still spinning or blocked by now, the value must
  // reach it; the test's timeout catches a lost wake-up.
  std::this_thread::sleep_for(5ms);
  slot->set_value(42);
  waiter.join();
}

// Many slots set by one thread while another waits on each in turn, as a
// Future's thread does on the results of a pipeline: no result is lost, and
// slots sharing a parking spot do not steal each other's wake-ups.
TEST(ResultSlotTest, ManySlotsSetByOneThreadAndWaitedByAnother) {
  constexpr int kSlots = 20000;
  std::vector<std::shared_ptr<ResultSlot<int>>> slots;
  for (int i = 0; i < kSlots; ++i) slots.push_back(std::make_shared<ResultSlot<int>>());
  std::thread setter([&] {
    for (int i = 0; i < kSlots; ++i) {
      if (i % 1000 == 0) std::this_thread::sleep_for(1ms);
      slots[i]->set_value(i);
    }
  });
  for (int i = 0; i < kSlots; ++i) {
    slots[i]->Wait();
    ASSERT_EQ(slots[i]->Take(), i);
  }
  setter.join();
}

TEST(FutureTest, GetTwiceThrowsNoState) {
  auto slot = std::make_shared<ResultSlot<int>>();
  slot->set_value(3);
  Future<int> future(slot, CallTicket());
  EXPECT_TRUE(future.valid());
  EXPECT_TRUE(future.ready());
  EXPECT_EQ(future.get(), 3);
  EXPECT_FALSE(future.valid());
  EXPECT_THROW(future.get(), std::future_error);
  Future<void> empty;
  EXPECT_FALSE(empty.valid());
  EXPECT_THROW(empty.wait(), std::future_error);
}

}  // namespace
}  // namespace shoal::detail
