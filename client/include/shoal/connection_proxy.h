// ConnectionProxy is one end of manager.Pipe(duplex), after Python's
// multiprocessing.connection.Connection: what one end sends, the other
// receives, in order, and nothing is lost or received twice. Messages are
// Values; a proxy sent through comes out as a live reference (make a proxy of
// it, such as ListProxy(message)), and an end itself may travel through a
// Pipe, a Queue or a dict, or to another process by token().
//
// An end lives on the server and is one object whoever holds it: close()
// closes it for every process and thread holding it, not only for this proxy
// (unlike an OS pipe, where each process closes its own descriptor). An end
// is also closed when the last reference to it goes: every session that held
// it has ended (its Manager closed, or its process died) or dropped its
// proxies, and no object holds it. To let go of an end without closing it for
// the others, drop the proxy instead of calling close(). Once an end is
// closed, the other end receives what was already sent, then EOFError.
//
// Each direction buffers a bounded amount (64 KiB by default, see
// PipeOptions): a send waits, parked on the server without a thread, while
// the receiver lags.
//
// Thread-safety: a proxy may be used from several threads at once; a recv or
// send that waits does not hold up other calls of the same Manager.
#ifndef SHOAL_CONNECTION_PROXY_H_
#define SHOAL_CONNECTION_PROXY_H_

#include <chrono>
#include <memory>
#include <utility>

#include "shoal/acquirer_proxy.h"
#include "shoal/proxy.h"
#include "shoal/value.h"

namespace shoal {

class ConnectionProxy : public ObjectProxy {
 public:
  static constexpr Kind kKind = Kind::kConnection;
  explicit ConnectionProxy(const Value& value) : ObjectProxy(value, kKind) {}
  class Async;

  // The same operations, pipelined: each returns a Future at once (see
  // shoal/pipeline.h); a send's or recv's Future is ready when the call
  // ends.
  Async async() const;
  Async async(Batch& batch) const;

  // conn.send(obj): returns once obj is buffered for the other end (or taken
  // by a recv waiting there); waits while the buffer is full. OSError when
  // this end is closed or only receives, or the other end is closed;
  // LimitError past the server's --max-bytes.
  void send(const Value& obj);
  // conn.recv(): the oldest message the other end sent; waits while there is
  // none. EOFError once the other end is closed and everything it sent has
  // been received; OSError when this end is closed or only sends.
  Value recv();
  // conn.poll(timeout): whether a recv would not wait, that is a message is
  // there or the other end is closed. Waits up to timeout for that (0, the
  // default, not at all; std::nullopt as long as it takes, as Python's
  // poll(None)). OSError when this end is closed or only sends.
  bool poll(Timeout timeout = std::chrono::duration<double>(0));
  // conn.close(): closes this end, for every holder. Calls waiting on it fail
  // with OSError. Closing a closed end does nothing.
  void close();
  // conn.closed
  bool closed() const;
  // conn.readable, conn.writable: false for the sending, respectively the
  // receiving, end of a one-way pipe.
  bool readable() const;
  bool writable() const;

 private:
  friend class detail::ProxyAccess;
  // The view the blocking methods wait on.
  Async now() const;
  explicit ConnectionProxy(std::shared_ptr<detail::ObjectHandle> handle)
      : ObjectProxy(std::move(handle)) {}
};

// ConnectionProxy's operations, each returning a Future of what the blocking
// method returns; EOFError and OSError are thrown by the Future's get().
class ConnectionProxy::Async {
 public:
  Future<void> send(const Value& obj);
  Future<Value> recv();
  Future<bool> poll(Timeout timeout = std::chrono::duration<double>(0));
  Future<void> close();

 private:
  friend class ConnectionProxy;
  explicit Async(detail::AsyncTarget target) : target_(std::move(target)) {}

  detail::AsyncTarget target_;
};

}  // namespace shoal

#endif  // SHOAL_CONNECTION_PROXY_H_
