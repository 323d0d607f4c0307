// Pipelined calls: issuing many operations without waiting for each reply.
//
// Every proxy of the data kinds (list, dict, Namespace, Value) and Queue has
// an async() view whose methods are the proxy's, but return a Future instead
// of waiting for the reply:
//
//   std::vector<shoal::Future<void>> sent;
//   for (int i = 0; i < 1000; ++i) sent.push_back(jobs.async().append(i));
//   for (auto& f : sent) f.get();              // throws that call's error
//
// async() sends each call on the session stream, in the order the calls are
// made; the server runs a session's calls in that order too, so the effects
// are those of the same calls made one after another. Calls made in a burst
// go out together: the connection writes what is queued when a Future whose
// reply is not in yet is waited on, when 64 KiB are queued, or 100
// microseconds after the first of them, whichever comes first. A
// Batch goes further: calls made through async(batch) are gathered and go out
// together, as one message, when the batch is sent:
//
//   shoal::Batch batch(m);
//   shoal::Future<shoal::Value> old = counter.async(batch).get();
//   counter.async(batch).add(1);
//   results.async(batch).set("k", 42);
//   batch.send();                              // one message, three calls
//   old.get();
//
// Results and errors are delivered per call: each Future holds its own
// call's result or exception (KeyError, IndexError, ...), and a failed call
// does not stop the ones after it. Future::get() sends its batch first when
// the batch still holds the call, so waiting on a Future never deadlocks; a
// Future whose reply is in sends nothing (calls gathered in its batch since
// go out with the batch).
// A batch also goes out by itself when it grows past its size limit (1 MiB, or
// less when the server's message limit is lower), and when it is destroyed.
//
// Thread-safety: Futures are not shared between threads (as std::future);
// a Batch may be used and sent from several threads at once, and its calls go
// out in the order they were added.
#ifndef SHOAL_PIPELINE_H_
#define SHOAL_PIPELINE_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <future>
#include <memory>
#include <optional>
#include <utility>

namespace shoal {

class Manager;

namespace detail {
class ObjectHandle;
// Calls gathered by a Batch, and the connection of a session; defined in the
// library's sources.
class Outbox;
class Connection;

// What an async() view calls through: the object's handle and the outbox its
// calls go to (the session's stream outbox, or a batch's), or none for the
// blocking methods, whose calls are written at once.
struct AsyncTarget {
  std::shared_ptr<ObjectHandle> handle;
  std::shared_ptr<Outbox> outbox;
};

// Where a call stands until its reply can arrive, for the Future that waits
// on it: gathered in an outbox, to be written when the outbox is flushed; or
// written and awaited, its reply to be read by whoever waits on the Future
// while no other thread reads. Defined in the library's sources.
//
// Not thread-safe, as the Future that holds it.
class CallTicket {
 public:
  CallTicket() = default;
  // A call waiting in outbox.
  explicit CallTicket(std::shared_ptr<Outbox> outbox) : outbox_(std::move(outbox)) {}
  // A call written on connection and awaited (see Connection::Send).
  CallTicket(std::shared_ptr<Connection> connection, uint64_t call_id)
      : connection_(std::move(connection)), call_id_(call_id) {}
  // A reply nobody waits for here is read by the connection's reader thread.
  ~CallTicket() { Disown(); }
  CallTicket(CallTicket&&) noexcept = default;
  CallTicket& operator=(CallTicket&& other) noexcept {
    if (this != &other) {
      Disown();
      outbox_ = std::move(other.outbox_);
      connection_ = std::move(other.connection_);
      call_id_ = other.call_id_;
    }
    return *this;
  }

  // Writes the outbox the call waits in, if it does.
  void Send();
  // Sends, then waits until an awaited call's reply is in, reading replies
  // on this thread while no other thread reads. When another thread read
  // the reply, its conversion may still be running: the ResultSlot waits.
  void Await();
  // Leaves an awaited call's reply to the connection's reader thread.
  void Disown();
  // Lets go of a call whose reply is in: the call went out, or never will,
  // and nothing is left to read or leave to the reader thread. Its outbox is
  // not flushed (a batch may hold later calls). Throws, as Await, for a call
  // this process inherited through fork().
  void Answered();

 private:
  std::shared_ptr<Outbox> outbox_;
  // Set while the call is awaited and nobody has awaited or disowned it, or
  // found it answered, yet.
  std::shared_ptr<Connection> connection_;
  uint64_t call_id_ = 0;
};

// Where one call's result is delivered: set once, by the thread that read the
// reply, and taken by the Future. Setting it makes no system call unless the
// Future's thread is already blocked on it (unlike std::promise, whose every
// set_value wakes a futex); waiting blocks only when the result is not there.
class ResultSlotBase {
 public:
  ResultSlotBase() = default;
  ResultSlotBase(const ResultSlotBase&) = delete;
  ResultSlotBase& operator=(const ResultSlotBase&) = delete;

  bool ready() const { return state_.load(std::memory_order_acquire) == kReady; }
  // Blocks until the result is set.
  void Wait();
  // Blocks at most timeout; true when the result is set.
  bool WaitFor(std::chrono::nanoseconds timeout);

  void set_exception(std::exception_ptr error) {
    error_ = std::move(error);
    Publish();
  }

 protected:
  // Makes the result visible, and wakes the thread blocked on it, if any.
  void Publish();
  // Looks at the slot for a little while; true once it is ready.
  bool SpinUntilReady() const;
  void RethrowError() {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  static constexpr int kPending = 0;
  static constexpr int kReady = 1;
  static constexpr int kWaited = 2;  // pending, and a thread blocks on it
  std::atomic<int> state_{kPending};
  std::exception_ptr error_;
};

template <class T>
class ResultSlot : public ResultSlotBase {
 public:
  void set_value(T value) {
    value_.emplace(std::move(value));
    Publish();
  }
  // The result, once ready: the value, or the error thrown.
  T Take() {
    RethrowError();
    return std::move(*value_);
  }

 private:
  std::optional<T> value_;
};

template <>
class ResultSlot<void> : public ResultSlotBase {
 public:
  void set_value() { Publish(); }
  void Take() { RethrowError(); }
};
}  // namespace detail

// The result of one pipelined call: it sends its batch first when the call
// is still waiting in one.
template <class T>
class Future {
 public:
  Future() = default;
  Future(std::shared_ptr<detail::ResultSlot<T>> slot, detail::CallTicket ticket)
      : slot_(std::move(slot)), ticket_(std::move(ticket)) {}

  // Waits for the reply and returns the result, or throws the call's error
  // (a shoal::Error). Like std::future::get, it may be called once; called
  // again, it throws std::future_error (no_state).
  T get() {
    CheckValid();
    Await();
    slot_->Wait();
    std::shared_ptr<detail::ResultSlot<T>> slot = std::move(slot_);
    return slot->Take();
  }
  // Waits for the reply without taking the result.
  void wait() {
    CheckValid();
    Await();
    slot_->Wait();
  }
  // Waits at most timeout; true when the reply is there.
  template <class Rep, class Period>
  bool wait_for(const std::chrono::duration<Rep, Period>& timeout) {
    CheckValid();
    ticket_.Send();
    ticket_.Disown();
    return slot_->WaitFor(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout));
  }
  // Whether the reply is there, without waiting or sending.
  bool ready() const {
    CheckValid();
    return slot_->ready();
  }
  // Whether this Future holds a call (false once get() has run).
  bool valid() const { return slot_ != nullptr; }

 private:
  void CheckValid() const {
    if (slot_ == nullptr) throw std::future_error(std::future_errc::no_state);
  }
  // Sends what holds the call and waits for its reply (CallTicket::Await),
  // unless the reply is in already, as most are by the time a pipeline's
  // futures are waited on, the reader thread having read them.
  void Await() {
    if (slot_->ready()) {
      ticket_.Answered();
    } else {
      ticket_.Await();
    }
  }

  std::shared_ptr<detail::ResultSlot<T>> slot_;
  detail::CallTicket ticket_;
};

// Calls gathered to go out as one message. Keeps its Manager's session open.
class Batch {
 public:
  explicit Batch(const Manager& manager);
  // Sends the calls still gathered.
  ~Batch();
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
  Batch(Batch&&) = default;
  Batch& operator=(Batch&&) = default;

  // Sends the calls gathered so far (nothing when there are none). Calls made
  // through the batch afterwards gather again.
  void send();
  // How many calls are gathered and not yet sent.
  size_t size() const;

 private:
  friend class ObjectProxy;
  std::shared_ptr<detail::Outbox> outbox_;
};

}  // namespace shoal

#endif  // SHOAL_PIPELINE_H_
