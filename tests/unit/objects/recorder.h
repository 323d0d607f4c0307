// Records the completions of parked calls, each under the name of its call,
// in the order they run, so that a test sees which calls completed, how, in
// what order, and that none completed twice. Thread-safe.
#ifndef SHOAL_TESTS_UNIT_OBJECTS_RECORDER_H_
#define SHOAL_TESTS_UNIT_OBJECTS_RECORDER_H_

#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "server/objects/waiting.h"

namespace shoal::server::testing {

class Recorder {
 public:
  struct Entry {
    std::string name;
    Outcome outcome;
  };

  // A completion that records its outcome under name.
  Completion Track(std::string name) {
    return [this, name = std::move(name)](Outcome outcome) {
      std::lock_guard<std::mutex> lock(mu_);
      log_.push_back(Entry{name, std::move(outcome)});
    };
  }

  std::vector<Entry> log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  // The names in completion order.
  std::vector<std::string> names() {
    std::vector<std::string> out;
    for (const Entry& entry : log()) out.push_back(entry.name);
    return out;
  }
  // The outcome of the call named name; fails the test unless it completed
  // exactly once.
  Outcome Of(const std::string& name) {
    std::vector<Outcome> found;
    for (const Entry& entry : log()) {
      if (entry.name == name) found.push_back(entry.outcome);
    }
    EXPECT_EQ(found.size(), 1u) << name << " completed " << found.size() << " times";
    return found.empty() ? Outcome::Error(absl::UnknownError("not completed")) : found[0];
  }
  // Whether the call named name has completed.
  bool Has(const std::string& name) {
    for (const Entry& entry : log()) {
      if (entry.name == name) return true;
    }
    return false;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_.size();
  }
  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    log_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<Entry> log_;
};

}  // namespace shoal::server::testing

#endif  // SHOAL_TESTS_UNIT_OBJECTS_RECORDER_H_
