// What the client library does about fork(): a child forked from a process
// with open sessions uses the Managers and proxies it inherited, as Python's
// proxies allow, while the sessions it inherited stay the parent's.
//
// The fork handlers (pthread_atfork, installed before the first session)
// count forks: ForkGeneration() is how many forks separate this process from
// the one that first loaded the library, so an object whose generation of
// birth is not the current one was inherited. Such an object belongs to an
// ancestor, whose threads are gone here and whose mutexes may have been held
// at the fork: the library never locks it, never writes or reads its
// connection, never shuts its socket down, and never destroys its threads
// (connection.h). In the child the handlers close the child's copies of the
// framed sockets (close() only; the parent's socket is untouched), so that
// the server sees the parent's connection end when the parent exits, even
// while the child lives. Before each fork, and once when they are installed,
// they finish the lazy initialisations of Abseil's Mutex (fork.cc), so that
// no child inherits one half done.
//
// On first use in the child, an inherited session gets a successor: a new
// session of the child, logged in on the framed transport with the key and
// options the session kept (gRPC's threads do not survive fork(), so nothing
// of gRPC's is used); an inherited proxy's handle takes the successor's own
// reference to its object (ForkLocal holds these). The process also keeps
// where the framed transport of each server it logged in to listens, so that
// Manager::connect in a child logs in there, without gRPC.
//
// Thread-safe.
#ifndef SHOAL_CLIENT_SRC_FORK_H_
#define SHOAL_CLIENT_SRC_FORK_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "shared/mutex.h"
#include "shoal/v1/auth.pb.h"

namespace shoal::detail {

class ClientSession;

// Installs the fork handlers, once; before any session exists.
void InstallForkHandlers();

// How many forks separate this process from the first that loaded the
// library (0 there).
uint64_t ForkGeneration();

// Whether an object born in generation born was inherited from an ancestor.
inline bool InheritedHere(uint64_t born) { return born != ForkGeneration(); }

// A socket for a framed connection (socket(domain, SOCK_STREAM)), which a
// forked child closes its copy of; -1 with errno on failure. Close it with
// CloseSessionSocket.
int OpenSessionSocket(int domain);
void CloseSessionSocket(int fd);

// Where the framed transport of the server at address (as given to
// Manager::connect) listens, as its last login said; kept across fork().
void RememberFramedEndpoint(const std::string& address, const v1::FramedEndpoint& endpoint);
std::optional<v1::FramedEndpoint> KnownFramedEndpoint(const std::string& address);

// The library is about to use gRPC in this process.
void NoteGrpcUse();
// Whether gRPC was used before a fork that made this process (or one of its
// ancestors): then gRPC must not be used here at all.
bool GrpcLostToFork();

// Every session opened in this process is registered, for
// EndSessionsOfThisProcess.
void RegisterSession(const std::shared_ptr<ClientSession>& session);

// Ends every session this process opened and that is still open: those of
// Manager::connect, and the successors of the sessions it inherited, as
// Manager::close does: the server drops their references and gives back the
// locks, semaphore permits and waits they held at once, instead of after the
// grace period of a broken connection. Each close waits for the server to
// end the stream for at most the session's ConnectOptions::timeout. The
// sessions inherited from the parent are not touched, and no successor is
// made afterwards: a later call through an inherited Manager or proxy
// throws ConnectionError.
//
// For a child made by fork() that is about to _exit(): call it first.
// Without it, the child's sessions end once the server sees their
// connections close with the process, after the grace of a broken stream
// (--stream-grace), and what they held is given back only then.
void EndSessionsOfThisProcess();
// Whether EndSessionsOfThisProcess has run in this process.
bool SessionsOfThisProcessEnded();

// One value per process, for an object that may be inherited: in each
// process that asks, made once (by the function given to Get) and kept until
// the object is destroyed there. The slot of each process is allocated in
// that process; a slot inherited from an ancestor (whose mutex may have been
// held at the fork) is left alone, never locked nor freed, and its value is
// never destroyed.
template <class T>
class ForkLocal {
 public:
  ForkLocal() = default;
  ~ForkLocal() {
    Slot* slot = slot_.load(std::memory_order_acquire);
    if (slot != nullptr && !InheritedHere(slot->generation)) delete slot;
  }
  ForkLocal(const ForkLocal&) = delete;
  ForkLocal& operator=(const ForkLocal&) = delete;

  // This process's value, made by make() (which returns a shared_ptr<T>)
  // the first time. When make throws, nothing is kept and the exception
  // goes to the caller; the next Get tries again. Threads asking at once
  // wait for one make.
  template <class Make>
  std::shared_ptr<T> Get(Make make) {
    Slot* slot = SlotHere();
    MutexLock lock(&slot->mu);
    if (slot->value == nullptr) slot->value = make();
    return slot->value;
  }

  // This process's value, if it has made one.
  std::shared_ptr<T> Peek() {
    Slot* slot = slot_.load(std::memory_order_acquire);
    if (slot == nullptr || InheritedHere(slot->generation)) return nullptr;
    MutexLock lock(&slot->mu);
    return slot->value;
  }

 private:
  struct Slot {
    explicit Slot(uint64_t g) : generation(g) {}
    const uint64_t generation;
    Mutex mu;
    std::shared_ptr<T> value ABSL_GUARDED_BY(mu);
  };

  Slot* SlotHere() {
    Slot* slot = slot_.load(std::memory_order_acquire);
    if (slot != nullptr && !InheritedHere(slot->generation)) return slot;
    // None yet, or an ancestor's: this process's replaces it, and the
    // ancestor's is left as it is.
    auto* mine = new Slot(ForkGeneration());
    if (slot_.compare_exchange_strong(slot, mine, std::memory_order_acq_rel)) return mine;
    // Another thread of this process put its own first.
    delete mine;
    return slot;
  }

  std::atomic<Slot*> slot_{nullptr};
};

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_FORK_H_
