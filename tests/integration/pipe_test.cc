// Pipes through the client library, against a real server: Python's
// Connection semantics (send, recv, poll, close, EOFError, OSError), ends
// handed to other sessions and to worker processes by token or through a
// Queue or a dict, an end closing when the session holding it ends or its
// process dies, a bounded buffer that parks sends, and no message lost or
// received twice with many senders. Where a second party must act it is
// another Manager on another thread, or a worker process; the tests wait for
// the server to show a parked call (Describe) instead of sleeping.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "integration/error_of.h"
#include "integration/server_process.h"
#include "integration/waiting.h"
#include "shoal/shoal.h"

namespace shoal::testing {
namespace {

using namespace std::chrono_literals;

class PipeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // A killed worker's session ends soon after its stream breaks.
    server_ = new ServerProcess({"--stream-grace=100ms"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static Manager Connect() { return ConnectTo(*server_); }
  static Manager ConnectTo(const ServerProcess& server) {
    return Manager::connect(server.address(), AuthKey::from_file(server.authkey_file()));
  }
  // A worker process of workers.h, told where the server is.
  static pid_t Spawn(std::vector<std::string> args, int* out = nullptr) {
    args.insert(args.begin() + 1, {server_->address(), server_->authkey_file()});
    return SpawnWorker(args, out);
  }
  std::string Unique(const std::string& prefix) {
    return prefix + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  inline static ServerProcess* server_ = nullptr;
};

TEST_F(PipeTest, TwoProcessesExchangeMessagesThroughAnEndHandedOverByToken) {
  Manager m = Connect();
  auto [parent_conn, child_conn] = m.Pipe();
  // The worker is this program started again (fork, then exec): it attaches
  // the end by its token, in a session of its own, and echoes what it gets.
  const pid_t worker = Spawn({"pipe-echo", child_conn.token()});
  const Value nested = Value::list({42, nullptr, "hello", Value::dict({{"k", 1.5}})});
  parent_conn.send(nested);
  EXPECT_EQ(parent_conn.recv(), Value::list({"echo", nested}));
  for (int i = 0; i < 100; ++i) parent_conn.send(i);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(parent_conn.recv(), Value::list({"echo", i}));
  // A proxy sent through comes back as a live reference to the same object.
  ListProxy list = m.list();
  parent_conn.send(list);
  ListProxy echoed(parent_conn.recv().as_list()[1]);
  EXPECT_EQ(echoed.id(), list.id());
  // Closing our end ends the worker's loop; it closes its end in turn.
  parent_conn.close();
  EXPECT_EQ(WaitWorker(worker), 0);
  EXPECT_TRUE(child_conn.closed());
}

// Python's seeds: Process(target=f, args=(child_conn,)), the child forked
// with the end it inherited, which it uses in a session of its own.
TEST_F(PipeTest, AForkedProcessUsesTheEndItInherited) {
  Manager m = Connect();
  auto [parent_conn, child_conn] = m.Pipe();
  Process p([conn = child_conn]() mutable {
    for (;;) {
      Value got;
      try {
        got = conn.recv();
      } catch (const EOFError&) {
        break;
      }
      conn.send(Value::list({"echo", got}));
    }
    conn.close();
  });
  p.start();
  for (int i = 0; i < 50; ++i) parent_conn.send(i);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(parent_conn.recv(), Value::list({"echo", i}));
  parent_conn.close();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_TRUE(child_conn.closed());
}

// Several forked senders on the sending end of a one-way pipe: each one's
// messages arrive in its order, none lost or twice.
TEST_F(PipeTest, ForkedSendersOnAOneWayPipeLoseNothing) {
  constexpr int kSenders = 3;
  constexpr int kEach = 40;
  Manager m = Connect();
  auto [reader, writer] = m.Pipe(false);
  std::vector<Process> senders;
  for (int w = 0; w < kSenders; ++w) {
    senders.emplace_back([end = writer, w]() mutable {
      for (int i = 0; i < kEach; ++i) end.send(Value::list({w, i}));
    });
  }
  for (Process& p : senders) p.start();
  std::vector<int> next(kSenders, 0);
  for (int n = 0; n < kSenders * kEach; ++n) {
    const Value::List got = reader.recv().as_list();
    const int w = static_cast<int>(got[0].as_int());
    ASSERT_EQ(got[1].as_int(), next[w]) << "sender " << w;
    ++next[w];
  }
  for (Process& p : senders) p.join();
  for (Process& p : senders) EXPECT_EQ(p.exitcode(), 0) << p.name();
  EXPECT_FALSE(reader.poll());
  // The senders' sessions ended; the parent's reference keeps the end open
  // until it closes it.
  writer.close();
  EXPECT_THROW(reader.recv(), EOFError);
}

TEST_F(PipeTest, EachDirectionOfADuplexPipeKeepsItsOrder) {
  Manager m = Connect(), other = Connect();
  auto [a, b] = m.Pipe();
  ConnectionProxy theirs = other.attach<ConnectionProxy>(b.token());
  EXPECT_TRUE(a.readable() && a.writable() && theirs.readable() && theirs.writable());
  for (int i = 0; i < 20; ++i) {
    a.send(i);
    theirs.send(-i);
  }
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(theirs.recv().as_int(), i);
    EXPECT_EQ(a.recv().as_int(), -i);
  }
  // Pipelined sends keep their order too.
  std::vector<Future<void>> sent;
  for (int i = 0; i < 200; ++i) sent.push_back(a.async().send(i));
  for (int i = 0; i < 200; ++i) ASSERT_EQ(b.recv().as_int(), i);
  for (Future<void>& f : sent) f.get();
}

TEST_F(PipeTest, RecvRaisesEOFErrorOnlyOnceEverythingSentWasReceived) {
  Manager m = Connect();
  // Not a structured binding: lambdas below use the ends.
  auto pipe = m.Pipe();
  ConnectionProxy& a = pipe.first;
  ConnectionProxy& b = pipe.second;
  b.send("one");
  b.send("two");
  b.close();
  EXPECT_TRUE(b.closed());
  EXPECT_FALSE(a.closed());
  EXPECT_TRUE(a.poll());
  EXPECT_EQ(a.recv().as_str(), "one");
  EXPECT_EQ(a.recv().as_str(), "two");
  EXPECT_THROW(a.recv(), EOFError);
  // At the end a recv would not wait: poll says so, and EOF stays.
  EXPECT_TRUE(a.poll());
  EXPECT_TRUE(a.poll(std::nullopt));
  EXPECT_THROW(a.recv(), EOFError);
  // What a sends can never be received: Python's BrokenPipeError.
  const std::string message = ErrorOf<OSError>([&] { a.send(3); });
  EXPECT_EQ(message, "the other end of the pipe is closed");
}

TEST_F(PipeTest, AParkedRecvEndsWithEOFErrorWhenTheOtherEndCloses) {
  Manager m = Connect(), other = Connect();
  // Not a structured binding: lambdas below use the ends.
  auto pipe = m.Pipe();
  ConnectionProxy& a = pipe.first;
  ConnectionProxy& b = pipe.second;
  ConnectionProxy theirs = other.attach<ConnectionProxy>(b.token());
  auto recv = std::async(std::launch::async, [&] { return a.recv(); });
  ASSERT_TRUE(AwaitWaiting(m, a, 1));
  theirs.close();
  EXPECT_THROW(recv.get(), EOFError);
  EXPECT_TRUE(b.closed());  // One end, whoever holds it.
}

TEST_F(PipeTest, EOFWhenTheSessionHoldingThePeerEnds) {
  Manager m = Connect();
  Manager other = Connect();
  std::optional<ConnectionProxy> theirs;
  // Only the other session keeps the second end: this one lets its proxy go.
  ConnectionProxy a = [&] {
    auto [first, second] = m.Pipe();
    theirs = other.attach<ConnectionProxy>(second.token());
    return first;
  }();
  theirs->send("before");
  theirs->send("the end");
  auto recv_after = std::async(std::launch::async, [&] {
    std::vector<Value> got = {a.recv(), a.recv()};
    try {
      a.recv();
      ADD_FAILURE() << "no EOFError";
    } catch (const EOFError&) {
    }
    return got;
  });
  // The other session ends: its reference goes, and with it the end's last.
  other.close();
  EXPECT_EQ(recv_after.get(), (std::vector<Value>{"before", "the end"}));
  EXPECT_THROW(a.send(1), OSError);
}

TEST_F(PipeTest, EOFWhenTheProcessHoldingThePeerDies) {
  Manager m = Connect();
  int out = -1;
  std::optional<pid_t> worker;
  ConnectionProxy a = [&] {
    auto [first, second] = m.Pipe();
    worker = Spawn({"pipe-hold", second.token()}, &out);
    // Once the worker holds the end, this session lets its own go.
    EXPECT_EQ(first.recv().as_str(), "attached");
    return first;
  }();
  auto recv = std::async(std::launch::async, [&] { return a.recv(); });
  ASSERT_TRUE(AwaitWaiting(m, a, 1));
  ASSERT_EQ(kill(*worker, SIGKILL), 0);
  EXPECT_EQ(WaitWorker(*worker), 128 + SIGKILL);
  // Its session ends after the server's stream grace, which frees the end.
  EXPECT_THROW(recv.get(), EOFError);
  close(out);
}

TEST_F(PipeTest, TheWrongDirectionAndAClosedEndRaiseOSError) {
  Manager m = Connect();
  // Not a structured binding: lambdas below use the ends.
  auto pipe = m.Pipe(/*duplex=*/false);
  ConnectionProxy& receiver = pipe.first;
  ConnectionProxy& sender = pipe.second;
  EXPECT_TRUE(receiver.readable());
  EXPECT_FALSE(receiver.writable());
  EXPECT_FALSE(sender.readable());
  EXPECT_TRUE(sender.writable());
  EXPECT_EQ(ErrorOf<OSError>([&] { receiver.send(1); }), "connection is read-only");
  EXPECT_EQ(ErrorOf<OSError>([&] { sender.recv(); }), "connection is write-only");
  EXPECT_EQ(ErrorOf<OSError>([&] { sender.poll(); }), "connection is write-only");
  sender.send("the right way");
  EXPECT_EQ(receiver.recv().as_str(), "the right way");

  receiver.close();
  receiver.close();  // As Python's, a second close does nothing.
  EXPECT_TRUE(receiver.closed());
  for (auto call : std::vector<std::function<void()>>{
           [&] { receiver.recv(); }, [&] { receiver.poll(); },
           [&] { receiver.poll(std::nullopt); }}) {
    EXPECT_EQ(ErrorOf<OSError>(call), "connection is closed");
  }
  EXPECT_EQ(ErrorOf<OSError>([&] { sender.send(2); }), "the other end of the pipe is closed");
  // The server goes on: another pipe works.
  auto [a, b] = m.Pipe();
  a.send(1);
  EXPECT_EQ(b.recv().as_int(), 1);
}

TEST_F(PipeTest, AFullBufferParksSendUntilTheReceiverTakesMessages) {
  Manager m = Connect(), other = Connect();
  const std::string big(1000, 'x');
  const std::string third_big(1000, 'y');
  // Room for two of them.
  auto [a, b] = m.Pipe(true, "", PipeOptions{2500});
  a.send(big);
  a.send(big);
  ConnectionProxy sender = other.attach<ConnectionProxy>(a.token());
  // The third does not fit: the send waits, parked on the server.
  auto third = std::async(std::launch::async, [&] { sender.send(third_big); });
  ASSERT_TRUE(AwaitWaiting(m, a, 1));
  EXPECT_EQ(third.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(m.describe(b.id()).size, 2);
  EXPECT_EQ(b.recv().as_str(), big);
  third.get();
  EXPECT_TRUE(AwaitWaiting(m, a, 0));
  EXPECT_EQ(b.recv().as_str(), big);
  EXPECT_EQ(b.recv().as_str(), third_big);
  EXPECT_FALSE(b.poll());
}

TEST_F(PipeTest, PollWaitsNotAtAllForATimeoutOrForEver) {
  Manager m = Connect(), other = Connect();
  // Not a structured binding: lambdas below use the ends.
  auto pipe = m.Pipe();
  ConnectionProxy& a = pipe.first;
  ConnectionProxy& b = pipe.second;
  ConnectionProxy theirs = other.attach<ConnectionProxy>(b.token());
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(a.poll());
  EXPECT_FALSE(a.poll(0s));
  EXPECT_FALSE(a.poll(-1s));
  EXPECT_FALSE(a.poll(50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 50ms);

  auto forever = std::async(std::launch::async, [&] { return a.poll(std::nullopt); });
  auto timed = std::async(std::launch::async, [&] { return a.poll(60s); });
  ASSERT_TRUE(AwaitWaiting(m, a, 2));
  theirs.send("now");
  EXPECT_TRUE(forever.get());
  EXPECT_TRUE(timed.get());
  // Polling takes nothing.
  EXPECT_TRUE(a.poll());
  EXPECT_EQ(a.recv().as_str(), "now");
  EXPECT_FALSE(a.poll());
}

// Threads (each with a session of its own) and worker processes send N
// messages each through one end; the reader at the other end checks that
// every message arrives exactly once and each sender's in its order. The
// small buffer makes most sends park on the way.
TEST_F(PipeTest, ConcurrentSendersLoseNoMessageAndDuplicateNone) {
  constexpr int kThreads = 4;
  constexpr int kProcesses = 3;
  constexpr int kMessages = 300;
  Manager m = Connect();
  // Not a structured binding: lambdas below use the ends.
  auto pipe = m.Pipe(true, "", PipeOptions{512});
  ConnectionProxy& reader = pipe.first;
  ConnectionProxy& writer = pipe.second;
  std::vector<pid_t> workers;
  for (int p = 0; p < kProcesses; ++p) {
    workers.push_back(Spawn({"pipe-send", writer.token(), "process " + std::to_string(p),
                             std::to_string(kMessages)}));
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Manager mine = Connect();
      ConnectionProxy end = mine.attach<ConnectionProxy>(writer.token());
      for (int i = 0; i < kMessages; ++i) end.send(Value::list({"thread " + std::to_string(t), i}));
    });
  }
  // Per sender, the next index expected.
  std::map<std::string, int64_t> next;
  for (int n = 0; n < (kThreads + kProcesses) * kMessages; ++n) {
    const Value message = reader.recv();
    const std::string sender = message.as_list()[0].as_str();
    const int64_t index = message.as_list()[1].as_int();
    ASSERT_EQ(index, next[sender]) << sender << ": lost, duplicated or out of order";
    ++next[sender];
  }
  for (std::thread& thread : threads) thread.join();
  for (pid_t worker : workers) EXPECT_EQ(WaitWorker(worker), 0);
  ASSERT_EQ(next.size(), static_cast<size_t>(kThreads + kProcesses));
  for (const auto& [sender, count] : next) EXPECT_EQ(count, kMessages) << sender;
  EXPECT_FALSE(reader.poll());
}

TEST_F(PipeTest, EndsTravelThroughQueuesDictsAndPipesAsLiveProxies) {
  Manager m = Connect(), other = Connect();
  auto [a, b] = m.Pipe();
  QueueProxy q = m.Queue();
  DictProxy d = m.dict();
  q.put(b);
  d.set("end", b);

  QueueProxy their_queue = other.attach<QueueProxy>(q.token());
  ConnectionProxy from_queue(their_queue.get());
  EXPECT_EQ(from_queue.id(), b.id());
  from_queue.send("through a queue");
  EXPECT_EQ(a.recv().as_str(), "through a queue");
  ConnectionProxy from_dict(other.attach<DictProxy>(d.token()).get("end"));
  from_dict.send("through a dict");
  EXPECT_EQ(a.recv().as_str(), "through a dict");

  // An end through a pipe, as Python sends a Connection through one.
  auto [c, e] = m.Pipe();
  a.send(c);
  ConnectionProxy received(from_dict.recv());
  received.send("through a pipe");
  EXPECT_EQ(e.recv().as_str(), "through a pipe");
  EXPECT_THROW(QueueProxy(from_dict.ref()), TypeError);
}

TEST_F(PipeTest, ANamedPipeGivesEverySessionTheSameEnds) {
  const std::string name = Unique("pipe");
  Manager m = Connect(), other = Connect();
  auto [a, b] = m.Pipe(/*duplex=*/false, name);
  auto [their_a, their_b] = other.Pipe(/*duplex=*/false, name);
  EXPECT_EQ(their_a.id(), a.id());
  EXPECT_EQ(their_b.id(), b.id());
  their_b.send("by name");
  EXPECT_EQ(a.recv().as_str(), "by name");
  m.dict(Unique("dict"));
  EXPECT_THROW(m.Pipe(true, Unique("dict")), TypeError);

  // The name holds the ends; once deleted, they close with their last proxy.
  const ObjectInfo pipe = m.describe(name);
  EXPECT_EQ(pipe.kind, Kind::kPipe);
  EXPECT_EQ(pipe.repr, "<Pipe one-way, ends #" + std::to_string(a.id()) + " and #" +
                           std::to_string(b.id()) + ">");
  m.delete_named(name);
  EXPECT_FALSE(a.closed());
  EXPECT_THROW(m.describe(name), KeyError);
}

TEST_F(PipeTest, DescribeShowsAnEndsPeerMessagesAndWaiters) {
  Manager m = Connect();
  // Not a structured binding: lambdas below use the ends.
  auto pipe = m.Pipe();
  ConnectionProxy& a = pipe.first;
  ConnectionProxy& b = pipe.second;
  a.send(1);
  a.send(2);
  ObjectInfo info = m.describe(b.id());
  EXPECT_EQ(info.kind, Kind::kConnection);
  EXPECT_EQ(info.size, 2);
  EXPECT_EQ(info.repr, "<Connection duplex, peer #" + std::to_string(a.id()) + ", 2 messages>");
  EXPECT_EQ(info.session_refs, 1);
  EXPECT_TRUE(info.holders.empty());
  auto recv = std::async(std::launch::async, [&] { return a.recv(); });
  ASSERT_TRUE(AwaitWaiting(m, a, 1));
  bool listed = false;
  for (const SessionInfo& session : m.sessions()) {
    if (std::to_string(session.id) != m.session_id()) continue;
    for (const SessionHolding& holding : session.holdings) {
      if (holding.object_id != a.id()) continue;
      listed = true;
      EXPECT_EQ(holding.kind, Kind::kConnection);
      EXPECT_EQ(holding.waiting, 1);
    }
  }
  EXPECT_TRUE(listed);
  b.send("done");
  EXPECT_EQ(recv.get().as_str(), "done");
  b.close();
  EXPECT_EQ(m.describe(b.id()).repr,
            "<Connection duplex, peer #" + std::to_string(a.id()) + ", closed>");
  EXPECT_EQ(m.describe(a.id()).repr,
            "<Connection duplex, peer #" + std::to_string(b.id()) + " closed, 0 messages>");
}

TEST_F(PipeTest, AReceiverWhoseSessionEndedTakesNothing) {
  Manager m = Connect();
  auto [a, b] = m.Pipe();
  std::vector<Future<Value>> parked;
  {
    Manager gone = Connect();
    ConnectionProxy theirs = gone.attach<ConnectionProxy>(b.token());
    for (int i = 0; i < 3; ++i) parked.push_back(theirs.async().recv());
    ASSERT_TRUE(AwaitWaiting(m, b, 3));
    gone.close();
  }
  for (Future<Value>& recv : parked) EXPECT_THROW(recv.get(), ConnectionError);
  ASSERT_TRUE(AwaitWaiting(m, b, 0));
  // What is sent now goes to the receiver still there, not to those gone.
  a.send("kept");
  EXPECT_EQ(b.recv().as_str(), "kept");
  EXPECT_FALSE(b.poll());
}

TEST_F(PipeTest, ParkedPipeCallsCountAgainstTheParkingLimits) {
  ServerProcess server({"--max-parked-per-session=2"});
  Manager m = ConnectTo(server);
  // Not a structured binding: a lambda below uses an end.
  auto pipe = m.Pipe(true, "", PipeOptions{1});
  ConnectionProxy& a = pipe.first;
  ConnectionProxy& b = pipe.second;
  Future<Value> recv = b.async().recv();
  a.send("fills b's direction");  // Goes straight to the parked recv.
  EXPECT_EQ(recv.get().as_str(), "fills b's direction");
  a.send(1);
  Future<void> first = a.async().send(2);
  Future<bool> poll = a.async().poll(std::nullopt);
  ASSERT_TRUE(AwaitWaiting(m, a, 2));
  // A third parked call of the session fails, whichever it is, and changes
  // nothing.
  const std::string message = ErrorOf<LimitError>([&] { a.send(3); });
  EXPECT_NE(message.find("--max-parked-per-session (2)"), std::string::npos) << message;
  EXPECT_THROW(a.recv(), LimitError);
  EXPECT_EQ(b.recv().as_int(), 1);
  first.get();
  EXPECT_EQ(b.recv().as_int(), 2);
  EXPECT_FALSE(b.poll());
  b.send("for the poll");
  EXPECT_TRUE(poll.get());
}

TEST_F(PipeTest, TheMemoryBudgetRefusesWhatDoesNotFitAndThePipeGoesOn) {
  ServerProcess server({"--max-bytes=20000"});
  Manager m = ConnectTo(server);
  // Not a structured binding: lambdas below use the ends.
  auto pipe = m.Pipe(true, "", PipeOptions{1 << 20});
  ConnectionProxy& a = pipe.first;
  ConnectionProxy& b = pipe.second;
  const std::string chunk(6000, 'x');
  a.send(chunk);
  a.send(chunk);
  a.send(chunk);
  // A fourth would hold past the budget: refused, and nothing changes.
  const std::string message = ErrorOf<LimitError>([&] { a.send(chunk); });
  EXPECT_NE(message.find("memory limit reached"), std::string::npos) << message;
  EXPECT_EQ(m.describe(b.id()).size, 3);
  // Received, a message gives its bytes back.
  EXPECT_EQ(b.recv().as_str(), chunk);
  a.send("fits again");
  EXPECT_EQ(b.recv().as_str(), chunk);
  EXPECT_EQ(b.recv().as_str(), chunk);
  EXPECT_EQ(b.recv().as_str(), "fits again");
  // So does what a closed end can no longer receive.
  a.send(chunk);
  a.send(chunk);
  a.send(chunk);
  b.close();
  auto [c, d] = m.Pipe(true, "", PipeOptions{1 << 20});
  c.send(chunk);
  c.send(chunk);
  EXPECT_EQ(d.recv().as_str(), chunk);
}

}  // namespace
}  // namespace shoal::testing
