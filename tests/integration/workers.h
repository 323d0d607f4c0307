// Worker processes for the multi-process tests. Each worker is this test
// program started again (SpawnWorker), connecting to the server on its own,
// as a Manager() client in another process would.
#ifndef SHOAL_TESTS_INTEGRATION_WORKERS_H_
#define SHOAL_TESTS_INTEGRATION_WORKERS_H_

namespace shoal::testing {

// argv[0] is the worker's name; the rest its arguments. Returns the exit code.
//   append ADDRESS KEYFILE LIST VALUE N WORKER_INDEX
//       appends N items ("w<index>-<i>") to the named list and adds 1 to the
//       named Value N times.
//   nested ADDRESS KEYFILE DICT
//       appends its pid to the list stored under "inner" in the named dict.
//   set-key ADDRESS KEYFILE TOKEN KEY
//       sets KEY of the dict of the token to its pid.
//   hold ADDRESS KEYFILE
//       creates anonymous objects (a list inside a dict), prints "ready" and
//       waits to be killed.
//   hold-lock ADDRESS KEYFILE LOCK
//       acquires the named Lock, prints "held TOKEN" and waits to be killed.
//   frozen-holder ADDRESS KEYFILE LOCK
//       acquires the named Lock, prints "held TOKEN" and waits, making no
//       call, until it is stopped and continued (SIGSTOP, SIGCONT); then
//       releases the Lock and prints "released", or what the release threw
//       ("ConnectionError: MESSAGE"), and waits to be killed.
//   blocked-get ADDRESS KEYFILE QUEUE
//       prints "ready" and blocks in get() on the named Queue; prints
//       "got ITEM" if an item comes.
//   take-permit ADDRESS KEYFILE TOKEN
//       acquires a permit of the Semaphore or BoundedSemaphore of the token,
//       prints "took" and waits to be killed.
//   barrier-party ADDRESS KEYFILE BARRIER PARTIES
//       prints "ready" and waits at the named Barrier.
//   get-until-shutdown ADDRESS KEYFILE TOKEN
//       prints "ready", then gets items from the queue of the token, printing
//       "got ITEM" for each, until it is shut down: prints "shutdown" then.
//   consume ADDRESS KEYFILE QUEUE LIST
//       gets items from the named JoinableQueue until None, appending each
//       to the named list, and calls task_done for each (the None included).
//   negate ADDRESS KEYFILE VALUE_TOKEN ARRAY_TOKEN
//       the seeds' Value and Array example: attaches to the Value and the
//       Array by their tokens, sets the Value to 3.1415927 and negates every
//       item of the Array, one item at a time.
//   array-writer ADDRESS KEYFILE ARRAY_TOKEN WORKER WORKERS ROUNDS
//       ROUNDS times, sets every item i of the Array with i % WORKERS ==
//       WORKER to WORKER * 1000 + round, one item at a time.
//   pipe-echo ADDRESS KEYFILE TOKEN
//       attaches the Pipe end named by TOKEN and answers each message M it
//       receives with ["echo", M], until EOFError; then closes the end.
//   pipe-send ADDRESS KEYFILE TOKEN TAG N
//       attaches the Pipe end named by TOKEN and sends [TAG, i] for i from 0
//       to N - 1.
//   pipe-hold ADDRESS KEYFILE TOKEN
//       attaches the Pipe end named by TOKEN, sends "attached" through it and
//       waits to be killed.
//   pool-serve ADDRESS KEYFILE POOL
//       serves the named Pool with the functions of pool_functions.h until
//       it is closed and drained; prints "served".
//   pool-owner ADDRESS KEYFILE N
//       makes an anonymous Pool of N local workers, runs a map on them,
//       prints "pids PID..." (the workers' pids) and waits to be killed.
int RunWorker(int argc, char** argv);

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_INTEGRATION_WORKERS_H_
