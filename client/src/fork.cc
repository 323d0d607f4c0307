#include "client/src/fork.h"

#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "absl/base/internal/cycleclock.h"
#include "absl/base/internal/low_level_scheduling.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "client/src/client_session.h"

namespace shoal::detail {
namespace {

std::atomic<uint64_t> generation{0};
// The generation in which gRPC was first used; -1 before.
std::atomic<int64_t> grpc_generation{-1};
// The generation in which EndSessionsOfThisProcess ran; -1 before.
std::atomic<int64_t> ended_generation{-1};

// What the process keeps across fork(). Its mutex is held across each fork
// (the prepare handler takes it), so that the child finds the state whole;
// the parent gives it back after, and the child makes a copy with a mutex
// of its own (the inherited one stays locked: unlocking it in the child
// would not do, as a lock may remember its owner by a thread id that is
// not the child's).
struct ProcessState {
  Mutex mu;
  // The framed sockets open now.
  absl::flat_hash_set<int> sockets ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<std::string, v1::FramedEndpoint> endpoints ABSL_GUARDED_BY(mu);
  // Every session opened, with the generation that opened it; the expired
  // ones are dropped as new ones come.
  std::vector<std::pair<uint64_t, std::weak_ptr<ClientSession>>> sessions ABSL_GUARDED_BY(mu);
  // In a forked child, the parent's state, kept as it was: never used again,
  // but not lost either.
  ProcessState* parents = nullptr;
};

// This process's state. Never destroyed: a session may close after static
// destructors ran.
std::atomic<ProcessState*> current_state{nullptr};

ProcessState& State() {
  ProcessState* state = current_state.load(std::memory_order_acquire);
  if (state != nullptr) return *state;
  auto* fresh = new ProcessState();
  if (current_state.compare_exchange_strong(state, fresh, std::memory_order_acq_rel)) {
    return *fresh;
  }
  delete fresh;
  return *state;
}

// Runs the lazy initialisations that Abseil's Mutex does on its slow path,
// once per process, each under a process-wide once flag, so that they are
// finished before any fork(). A child forked while another thread of the
// parent is inside one of them inherits the flag as "running", with no
// thread left to finish it, and the child's first thread to get there waits
// on it for ever. The one that matters is the cycle clock's frequency: a
// thread that queues behind another waiter of a Mutex reads it (Abseil
// refreshes the thread's priority in the queue about once a second), with
// the Mutex's spin bit held; on x86 its first read measures the TSC for 3
// to 255 ms of sleeps. Stuck there, the child's thread holds the spin bit of
// that Mutex for ever, and every other thread locking it spins. The Mutex
// globals (spin and sleep limits, from the number of CPUs) are a shorter
// window of the same kind. Once finished in a process they stay finished in
// it and in its children; a thread inside one when this is called makes it
// wait until that thread is done.
void FinishAbseilLazyInit() {
  absl::base_internal::CycleClock::Frequency();
  // Reads the Mutex globals first, and with a count of 0 returns at once
  // (or yields once, on a single CPU).
  absl::synchronization_internal::MutexDelay(0, 0);
}

void BeforeFork() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  // Done since InstallForkHandlers; this also covers a fork made by another
  // thread while InstallForkHandlers was still measuring.
  FinishAbseilLazyInit();
  State().mu.Lock();
}

void AfterForkInParent() ABSL_NO_THREAD_SAFETY_ANALYSIS { State().mu.Unlock(); }

void AfterForkInChild() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  // Held by this thread since BeforeFork, and never used again.
  ProcessState& inherited = State();
  generation.fetch_add(1, std::memory_order_acq_rel);
  // The sockets are the parent's connections: the child's copies go, the
  // parent's stay as they are (close, never shutdown).
  for (int fd : inherited.sockets) close(fd);
  auto* mine = new ProcessState();
  mine->endpoints = inherited.endpoints;
  mine->sessions = inherited.sessions;
  mine->parents = &inherited;
  current_state.store(mine, std::memory_order_release);
}

}  // namespace

void InstallForkHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Abseil's lock-order checking (on where Abseil was built without
    // NDEBUG, as Debian's is) records every Mutex acquisition in one graph
    // behind one process-wide spinlock. A fork() while another thread holds
    // that spinlock leaves it held in the child for ever, and the child's
    // first Mutex lock then waits for ever: seen as a child of a parent busy
    // on four threads stuck in Mutex::Lock. No handler can take that lock
    // around fork(), so the checking is turned off in processes that use
    // the client library (the server's tests keep it).
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    State();
    pthread_atfork(BeforeFork, AfterForkInParent, AfterForkInChild);
    // Paid here, before the first session, rather than by the first fork.
    FinishAbseilLazyInit();
  });
}

uint64_t ForkGeneration() { return generation.load(std::memory_order_acquire); }

int OpenSessionSocket(int domain) {
  ProcessState& state = State();
  // Under the mutex, so that no fork comes between the socket's birth and
  // its registration.
  MutexLock lock(&state.mu);
  const int fd = socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) state.sockets.insert(fd);
  return fd;
}

void CloseSessionSocket(int fd) {
  ProcessState& state = State();
  // Under the mutex, so that a child never closes a number reused meanwhile.
  MutexLock lock(&state.mu);
  state.sockets.erase(fd);
  close(fd);
}

void RememberFramedEndpoint(const std::string& address, const v1::FramedEndpoint& endpoint) {
  if (endpoint.port() == 0 && endpoint.unix_path().empty()) return;
  ProcessState& state = State();
  MutexLock lock(&state.mu);
  state.endpoints[address] = endpoint;
}

std::optional<v1::FramedEndpoint> KnownFramedEndpoint(const std::string& address) {
  ProcessState& state = State();
  MutexLock lock(&state.mu);
  auto it = state.endpoints.find(address);
  if (it == state.endpoints.end()) return std::nullopt;
  return it->second;
}

void NoteGrpcUse() {
  int64_t unset = -1;
  grpc_generation.compare_exchange_strong(unset, static_cast<int64_t>(ForkGeneration()));
}

bool GrpcLostToFork() {
  const int64_t used = grpc_generation.load();
  return used >= 0 && static_cast<uint64_t>(used) != ForkGeneration();
}

void RegisterSession(const std::shared_ptr<ClientSession>& session) {
  ProcessState& state = State();
  MutexLock lock(&state.mu);
  state.sessions.erase(std::remove_if(state.sessions.begin(), state.sessions.end(),
                                      [](const auto& entry) { return entry.second.expired(); }),
                       state.sessions.end());
  state.sessions.emplace_back(ForkGeneration(), session);
}

void EndSessionsOfThisProcess() {
  const uint64_t here = ForkGeneration();
  ended_generation.store(static_cast<int64_t>(here));
  std::vector<std::shared_ptr<ClientSession>> open;
  {
    ProcessState& state = State();
    MutexLock lock(&state.mu);
    for (const auto& [born, weak] : state.sessions) {
      if (born != here) continue;
      if (std::shared_ptr<ClientSession> session = weak.lock()) open.push_back(std::move(session));
    }
  }
  // Closed without the mutex: a close waits for the server.
  for (const std::shared_ptr<ClientSession>& session : open) session->Close();
}

bool SessionsOfThisProcessEnded() {
  return ended_generation.load() == static_cast<int64_t>(ForkGeneration());
}

}  // namespace shoal::detail
