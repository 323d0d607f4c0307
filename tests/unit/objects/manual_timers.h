// Timers on a hand-driven clock, so that tests of timeouts wait for no real
// time: Advance() moves the clock and fires, in order and on the calling
// thread, every timer that has come due.
#ifndef SHOAL_TESTS_UNIT_OBJECTS_MANUAL_TIMERS_H_
#define SHOAL_TESTS_UNIT_OBJECTS_MANUAL_TIMERS_H_

#include <functional>
#include <map>
#include <mutex>
#include <utility>

#include "server/objects/waiting.h"

namespace shoal::server::testing {

class ManualTimers : public Timers {
 public:
  absl::Time Now() override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }

  TimerId Schedule(absl::Time when, std::function<void()> fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    const TimerId id = next_id_++;
    due_.emplace(std::make_pair(when, id), std::move(fn));
    return id;
  }

  void Cancel(TimerId id) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = due_.begin(); it != due_.end(); ++it) {
      if (it->first.second == id) {
        due_.erase(it);
        return;
      }
    }
  }

  // Moves the clock forward by d, firing the timers that come due.
  void Advance(absl::Duration d) {
    absl::Time until;
    {
      std::lock_guard<std::mutex> lock(mu_);
      until = now_ + d;
    }
    for (;;) {
      std::function<void()> fn;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (due_.empty() || due_.begin()->first.first > until) {
          now_ = until;
          return;
        }
        now_ = due_.begin()->first.first;
        fn = std::move(due_.begin()->second);
        due_.erase(due_.begin());
      }
      fn();
    }
  }

  size_t pending() {
    std::lock_guard<std::mutex> lock(mu_);
    return due_.size();
  }

 private:
  std::mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  TimerId next_id_ = 1;
  std::map<std::pair<absl::Time, TimerId>, std::function<void()>> due_;
};

}  // namespace shoal::server::testing

#endif  // SHOAL_TESTS_UNIT_OBJECTS_MANUAL_TIMERS_H_
