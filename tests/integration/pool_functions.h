// The functions the Pool tests' workers serve, in the test program's forked
// workers and in the "pool-serve" worker program (workers.h) alike.
#ifndef SHOAL_TESTS_INTEGRATION_POOL_FUNCTIONS_H_
#define SHOAL_TESTS_INTEGRATION_POOL_FUNCTIONS_H_

#include <signal.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "shoal/shoal.h"
#include "shoal/pool.h"

namespace shoal::testing {

// Set by the initializer of a pool's workers, read by "initialized".
inline int64_t pool_worker_initialized = 0;

// square(x): x * x.           add(a, b): a + b.
// key_error(k): throws KeyError.   std_error(m): throws std::runtime_error(m).
// pid(): the worker's process id.  die(): SIGKILLs its own worker.
// initialized(): pool_worker_initialized.
// block(list, event, x): appends the worker's pid to the named list, waits
//   for the named Event, then returns x * x.
// block_if(list, event, x, wait): block(list, event, x) when wait, else
//   x * x at once.
// die_if_negative(x): SIGKILLs its own worker for a negative x, else x * x.
// square_or_key_error(x): x * x, or throws KeyError for a negative x.
// length(s): the length of the str s.
// text(n): a str of n letters.
inline Functions PoolTestFunctions(const Manager& m) {
  Functions fns;
  fns.add("square", [](const Value::List& a) { return Value(a.at(0).as_int() * a.at(0).as_int()); });
  fns.add("add", [](const Value::List& a) { return Value(a.at(0).as_int() + a.at(1).as_int()); });
  fns.add("key_error", [](const Value::List& a) -> Value { throw KeyError(a.at(0).repr()); });
  fns.add("std_error",
          [](const Value::List& a) -> Value { throw std::runtime_error(a.at(0).as_str()); });
  fns.add("pid", [](const Value::List&) { return Value(static_cast<int64_t>(getpid())); });
  fns.add("die", [](const Value::List&) -> Value {
    raise(SIGKILL);
    return Value();
  });
  fns.add("block_if", [m](const Value::List& a) {
    if (a.at(3).as_bool()) {
      m.list(a.at(0).as_str()).append(static_cast<int64_t>(getpid()));
      m.Event(a.at(1).as_str()).wait();
    }
    return Value(a.at(2).as_int() * a.at(2).as_int());
  });
  fns.add("die_if_negative", [](const Value::List& a) {
    if (a.at(0).as_int() < 0) raise(SIGKILL);
    return Value(a.at(0).as_int() * a.at(0).as_int());
  });
  fns.add("square_or_key_error", [](const Value::List& a) {
    const int64_t x = a.at(0).as_int();
    if (x < 0) throw KeyError(a.at(0).repr());
    return Value(x * x);
  });
  fns.add("length", [](const Value::List& a) {
    return Value(static_cast<int64_t>(a.at(0).as_str().size()));
  });
  fns.add("text", [](const Value::List& a) {
    return Value(std::string(static_cast<size_t>(a.at(0).as_int()), 'r'));
  });
  fns.add("initialized", [](const Value::List&) { return Value(pool_worker_initialized); });
  fns.add("block", [m](const Value::List& a) {
    m.list(a.at(0).as_str()).append(static_cast<int64_t>(getpid()));
    m.Event(a.at(1).as_str()).wait();
    return Value(a.at(2).as_int() * a.at(2).as_int());
  });
  return fns;
}

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_INTEGRATION_POOL_FUNCTIONS_H_
