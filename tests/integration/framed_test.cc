// The framed transport of the session stream, spoken byte by byte on a real
// socket, and chosen (or refused) by the client library.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <dirent.h>
#include <linux/io_uring.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "integration/fixture.h"
#include "integration/framed_socket.h"
#include "integration/nesting.h"
#include "integration/raw_client.h"
#include "integration/waiting.h"
#include "shared/framing.h"
#include "shared/session_frames.h"
#include "shoal/v1/dict.pb.h"
#include "shoal/v1/manager.pb.h"
#include "shoal/v1/object.pb.h"
#include "shoal/v1/queue.pb.h"
#include "shoal/v1/session.pb.h"
#include "shoal/v1/shared_value.pb.h"
#include "shoal/v1/sync.pb.h"

namespace shoal::testing {
namespace {

v1::ClientFrame Hello(const std::string& token) {
  v1::ClientFrame frame;
  frame.set_token(token);
  return frame;
}

void AddCall(v1::ClientFrame* frame, uint64_t call_id, const std::string& method,
             const google::protobuf::MessageLite& request) {
  v1::Call* call = frame->add_calls();
  call->set_call_id(call_id);
  call->set_method(method);
  call->set_request(request.SerializeAsString());
}

class FramedTest : public ServerTest {
 protected:
  // A session's token, and the framed port the server offered with it.
  struct Login {
    std::string token;
    uint32_t port = 0;
  };
  Login LogIn() {
    RawClient raw(server().address());
    Login login;
    login.token = raw.Login(server().authkey());
    login.port = raw.last_answer().framed().port();
    return login;
  }

  // Opens a framed connection whose first frame carries token, then sends
  // bytes; expects the server to end the connection with code and an error
  // of kind, and to go on serving.
  void ExpectRefused(const std::string& token, const std::string& bytes, grpc::StatusCode code,
                     const std::string& kind) {
    FramedSocket socket(LogIn().port);
    ASSERT_TRUE(socket.connected());
    ASSERT_TRUE(socket.Write(Hello(token)));
    if (!bytes.empty()) ASSERT_TRUE(socket.WriteBytes(bytes));
    v1::StreamEnd end = socket.ReadUntilEnd();
    EXPECT_EQ(end.code(), static_cast<int>(code));
    EXPECT_NE(end.message().find(kind), std::string::npos) << end.message();
    EXPECT_TRUE(socket.AtEnd());
    ExpectServerServes();
  }

  // The server still serves, and what it holds is intact.
  void ExpectServerServes() {
    Manager m = Connect();
    ListProxy list = m.list(Ints({1, 2, 3}), Unique("still-serving"));
    list.append(4);
    EXPECT_EQ(list.copy(), Value(Ints({1, 2, 3, 4})));
  }
};

TEST_F(FramedTest, ServerOffersItsPortAtLogin) {
  Login login = LogIn();
  ASSERT_FALSE(login.token.empty());
  EXPECT_NE(login.port, 0u);
}

TEST_F(FramedTest, CallsAreAnsweredAndTheEndIsOrderly) {
  Login login = LogIn();
  FramedSocket socket(login.port);
  ASSERT_TRUE(socket.connected());
  v1::ClientFrame frame = Hello(login.token);
  AddCall(&frame, 7, "/shoal.v1.Manager/ListSessions", v1::ListSessionsRequest());
  ASSERT_TRUE(socket.Write(frame));

  v1::ServerFrame reply;
  ASSERT_TRUE(socket.Read(&reply));
  ASSERT_EQ(reply.replies_size(), 1);
  EXPECT_EQ(reply.replies(0).call_id(), 7u);
  EXPECT_EQ(reply.replies(0).code(), 0);
  v1::ListSessionsReply sessions;
  ASSERT_TRUE(sessions.ParseFromString(reply.replies(0).response()));
  // This very connection counts as the session's stream.
  bool found = false;
  for (const v1::SessionInfo& session : sessions.sessions()) {
    if (session.client() == "raw test client" && session.streams() == 1) found = true;
  }
  EXPECT_TRUE(found);

  // Once the client stops writing, the server ends the stream with code 0.
  socket.WritesDone();
  v1::StreamEnd end = socket.ReadUntilEnd();
  EXPECT_EQ(end.code(), 0);
  EXPECT_TRUE(socket.AtEnd());
}

TEST_F(FramedTest, AWrongTokenIsUnauthenticatedAndTheServerGoesOn) {
  ExpectRefused("not-a-token", "", grpc::StatusCode::UNAUTHENTICATED, "AuthenticationError");
}

TEST_F(FramedTest, AFramePastTheMessageLimitIsALimitError) {
  // A header announcing 2 GiB: refused before anything is read or kept.
  ExpectRefused(LogIn().token, std::string("\x7f\xff\xff\xff", 4),
                grpc::StatusCode::RESOURCE_EXHAUSTED, "LimitError");
}

// The nesting limit on the framed transport: 64 levels are taken, 65 and
// 10,000 are answered with ValueError naming the limit, and the server and
// the connection go on.
TEST_F(FramedTest, ValuesNestedDeeperThanTheLimitAreValueErrors) {
  const std::string name = Unique("nested");
  Manager m = Connect();
  ListProxy list = m.list(name);
  Login login = LogIn();
  FramedSocket socket(login.port);
  ASSERT_TRUE(socket.connected());
  // The first frame logs in alone: before login a frame may hold 4 KiB.
  ASSERT_TRUE(socket.Write(Hello(login.token)));
  v1::ClientFrame frame;
  for (const int depth : {64, 65, 10000}) {
    v1::Call* call = frame.add_calls();
    call->set_call_id(static_cast<uint64_t>(depth));
    call->set_method("/shoal.v1.ListService/Append");
    call->set_request(AppendNestedRequest(name, depth));
  }
  ASSERT_TRUE(socket.Write(frame));
  std::map<uint64_t, v1::Reply> replies;
  v1::ServerFrame reply;
  while (replies.size() < 3 && socket.Read(&reply)) {
    for (const v1::Reply& r : reply.replies()) replies[r.call_id()] = r;
  }
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[64].code(), 0) << replies[64].error_message();
  EXPECT_EQ(replies[65].error_kind(), "ValueError");
  EXPECT_EQ(replies[65].error_message(), "values nested deeper than 64 levels");
  EXPECT_EQ(replies[10000].error_kind(), "ValueError");
  EXPECT_EQ(replies[10000].error_message(),
            "malformed request message, or values nested deeper than 64 levels");
  EXPECT_EQ(list.len(), 1u);
  ExpectServerServes();
}

// Once logged in, frames are read in place (shared/session_frames.h); a
// frame in a form that reader leaves to protobuf (here an unknown field, and
// acknowledgements unpacked) is served all the same, and a Value.Add and a
// dict get, whose rows read and write the wire themselves, answer plainly
// and with errors as their messages say.
TEST_F(FramedTest, FramesTheQuickReaderLeavesToProtobufAreServedAlike) {
  const std::string value_name = Unique("counter");
  const std::string dict_name = Unique("dict");
  Manager m = Connect();
  ValueProxy counter = m.Value("i", Value(40), value_name);
  DictProxy dict = m.dict(dict_name);
  dict.set(Value("k"), Value("v"));
  Login login = LogIn();
  FramedSocket socket(login.port);
  ASSERT_TRUE(socket.connected());
  ASSERT_TRUE(socket.Write(Hello(login.token)));

  v1::AddRequest add;
  add.set_name(value_name);
  add.mutable_delta()->set_int_(2);
  v1::GetRequest get;
  get.set_name(dict_name);
  get.mutable_key()->set_str("k");
  v1::GetRequest missing = get;
  missing.mutable_key()->set_str("absent");
  missing.mutable_default_()->set_int_(-1);
  v1::AddRequest wrong = add;
  wrong.mutable_delta()->set_str("two");
  v1::ClientFrame frame;
  AddCall(&frame, 1, "/shoal.v1.ValueService/Add", add);
  AddCall(&frame, 2, "/shoal.v1.DictService/Get", get);
  AddCall(&frame, 3, "/shoal.v1.DictService/Get", missing);
  AddCall(&frame, 4, "/shoal.v1.ValueService/Add", wrong);
  std::string body = frame.SerializeAsString();
  body += std::string("\x40\x01\x40\x02", 4);  // acks 1 and 2, unpacked
  body += std::string("\xf8\x01\x2a", 3);        // field 31, unknown: a varint
  std::string bytes;
  AppendFramed(body, &bytes);
  ASSERT_TRUE(socket.WriteBytes(bytes));

  std::map<uint64_t, v1::Reply> replies;
  v1::ServerFrame reply;
  while (replies.size() < 4 && socket.Read(&reply)) {
    for (const v1::Reply& r : reply.replies()) replies[r.call_id()] = r;
  }
  ASSERT_EQ(replies.size(), 4u);
  v1::ValueReply value;
  ASSERT_EQ(replies[1].code(), 0) << replies[1].error_message();
  ASSERT_TRUE(value.ParseFromString(replies[1].response()));
  EXPECT_EQ(value.value().int_(), 42);
  ASSERT_TRUE(value.ParseFromString(replies[2].response()));
  EXPECT_EQ(value.value().str(), "v");
  ASSERT_TRUE(value.ParseFromString(replies[3].response()));
  EXPECT_EQ(value.value().int_(), -1);
  EXPECT_EQ(replies[4].error_kind(), "TypeError");
  EXPECT_EQ(counter.get(), Value(42));
  ExpectServerServes();
}

TEST_F(FramedTest, BytesThatAreNotAFrameAreAValueError) {
  // Five bytes of 0xff: a field tag whose varint never ends.
  ExpectRefused(LogIn().token, std::string("\x00\x00\x00\x05\xff\xff\xff\xff\xff", 9),
                grpc::StatusCode::INVALID_ARGUMENT, "ValueError");
}

TEST_F(FramedTest, AFramesCallsRunInOrderAndAnIdGivenTwiceIsADuplicate) {
  // One frame: a get that parks on an empty queue, a put that wakes it (so
  // the get completes while the frame is dispatched), the put's call id
  // again, and a call after them. Every call is answered; the get takes
  // the item put after it in the frame.
  Manager m = Connect();
  QueueProxy queue = m.Queue(0, Unique("frame-queue"));
  Login login = LogIn();
  FramedSocket socket(login.port);
  ASSERT_TRUE(socket.connected());
  v1::ClientFrame frame = Hello(login.token);
  v1::TimedRequest get;
  get.set_name(Unique("frame-queue"));
  v1::PutRequest put;
  put.set_name(Unique("frame-queue"));
  put.mutable_item()->set_int_(42);
  v1::PutRequest second_put = put;
  second_put.mutable_item()->set_int_(43);
  AddCall(&frame, 1, "/shoal.v1.QueueService/Get", get);
  AddCall(&frame, 2, "/shoal.v1.QueueService/Put", put);
  AddCall(&frame, 2, "/shoal.v1.QueueService/Put", second_put);
  AddCall(&frame, 3, "/shoal.v1.Manager/ListSessions", v1::ListSessionsRequest());
  ASSERT_TRUE(socket.Write(frame));

  std::map<uint64_t, v1::Reply> replies;
  int duplicates = 0;
  while (replies.size() < 3 || duplicates < 1) {
    v1::ServerFrame in;
    ASSERT_TRUE(socket.Read(&in));
    ASSERT_FALSE(in.has_end()) << in.end().message();
    for (const v1::Reply& reply : in.replies()) {
      if (reply.call_id() == 2 && reply.code() != 0) {
        EXPECT_EQ(reply.error_kind(), "ValueError");
        EXPECT_NE(reply.error_message().find("in use by a call in flight"), std::string::npos)
            << reply.error_message();
        ++duplicates;
      } else {
        replies[reply.call_id()] = reply;
      }
    }
  }
  EXPECT_EQ(duplicates, 1);
  ASSERT_EQ(replies.size(), 3u);
  for (const auto& [id, reply] : replies) EXPECT_EQ(reply.code(), 0) << id << reply.error_message();
  v1::ValueReply got;
  ASSERT_TRUE(got.ParseFromString(replies[1].response()));
  EXPECT_EQ(got.value().int_(), 42);
  // The duplicate put ran nothing: the queue is empty.
  EXPECT_EQ(queue.qsize(), 0);
  socket.WritesDone();
  EXPECT_EQ(socket.ReadUntilEnd().code(), 0);
}

TEST_F(FramedTest, AFramesCallsFindTheirObjectAsItIsWhenEachRuns) {
  // One frame of calls on one list, by its name and by its id. The server
  // finds the object once for such a frame, and must find it again as the
  // registry is after each call: the dict call sees a list, and once the
  // name is deleted the name finds nothing, while the id still finds the
  // list (the Manager's session holds it).
  Manager m = Connect();
  const std::string name = Unique("frame-found");
  ListProxy list = m.list(Ints({}), name);
  Login login = LogIn();
  FramedSocket socket(login.port);
  ASSERT_TRUE(socket.connected());
  v1::ClientFrame frame = Hello(login.token);
  const auto append = [&](uint64_t call_id, uint64_t id, const std::string& by_name, int item) {
    v1::ItemRequest request;
    request.set_id(id);
    request.set_name(by_name);
    request.mutable_item()->set_int_(item);
    AddCall(&frame, call_id, "/shoal.v1.ListService/Append", request);
  };
  append(1, 0, name, 1);
  append(2, 0, name, 2);
  v1::SetRequest set;
  set.set_name(name);
  set.mutable_key()->set_int_(1);
  set.mutable_value()->set_int_(1);
  AddCall(&frame, 3, "/shoal.v1.DictService/SetItem", set);
  v1::DeleteRequest forget;
  forget.set_name(name);
  AddCall(&frame, 4, "/shoal.v1.Manager/Delete", forget);
  append(5, 0, name, 5);
  append(6, list.id(), "", 6);
  ASSERT_TRUE(socket.Write(frame));

  std::map<uint64_t, v1::Reply> replies;
  while (replies.size() < 6) {
    v1::ServerFrame in;
    ASSERT_TRUE(socket.Read(&in));
    ASSERT_FALSE(in.has_end()) << in.end().message();
    for (const v1::Reply& reply : in.replies()) replies[reply.call_id()] = reply;
  }
  for (uint64_t ok : {1, 2, 4, 6}) {
    EXPECT_EQ(replies[ok].code(), 0) << ok << ": " << replies[ok].error_message();
  }
  EXPECT_EQ(replies[3].error_kind(), "TypeError") << replies[3].error_message();
  EXPECT_EQ(replies[5].error_kind(), "KeyError") << replies[5].error_message();
  EXPECT_NE(replies[5].error_message().find("no object is named"), std::string::npos)
      << replies[5].error_message();
  EXPECT_EQ(list.copy(), Value(Ints({1, 2, 6})));
  socket.WritesDone();
  EXPECT_EQ(socket.ReadUntilEnd().code(), 0);
}

TEST_F(FramedTest, AConnectionThatBreaksCancelsItsParkedCalls) {
  // A raw client parks a get on an empty queue and vanishes; the item put
  // afterwards goes to the living getter, not to the vanished one.
  Manager m = Connect();
  QueueProxy queue = m.Queue(0, Unique("queue"));
  Login login = LogIn();
  {
    FramedSocket socket(login.port);
    ASSERT_TRUE(socket.connected());
    v1::ClientFrame frame = Hello(login.token);
    v1::LookupRequest lookup;
    lookup.set_name(Unique("queue"));
    AddCall(&frame, 1, "/shoal.v1.Manager/Lookup", lookup);
    ASSERT_TRUE(socket.Write(frame));
    v1::ServerFrame reply;
    ASSERT_TRUE(socket.Read(&reply));
    ASSERT_EQ(reply.replies_size(), 1);
    ASSERT_EQ(reply.replies(0).code(), 0) << reply.replies(0).error_message();
    v1::LookupReply found;
    ASSERT_TRUE(found.ParseFromString(reply.replies(0).response()));

    // No timeout: blocks until an item comes.
    v1::TimedRequest request;
    request.set_id(found.ref().id());
    v1::ClientFrame get;
    AddCall(&get, 2, "/shoal.v1.QueueService/Get", request);
    ASSERT_TRUE(socket.Write(get));
    // The server holds one parked getter before the socket goes.
    ASSERT_TRUE(AwaitWaiting(m, Unique("queue"), 1));
  }
  // The server sees the connection end and cancels the get; an item put
  // before that would go to the getter that is gone, as on any transport.
  ASSERT_TRUE(AwaitWaiting(m, Unique("queue"), 0));
  queue.put(42);
  EXPECT_EQ(queue.get(true, std::chrono::seconds(30)), Value(42));
}

TEST_F(FramedTest, TheLibraryCarriesSessionsOnEitherTransport) {
  ConnectOptions framed;
  framed.transport = Transport::kFramed;
  ConnectOptions grpc_stream;
  grpc_stream.transport = Transport::kGrpcStream;
  Manager a = Manager::connect(server().address(), AuthKey::from_file(server().authkey_file()),
                               framed);
  Manager b = Manager::connect(server().address(), AuthKey::from_file(server().authkey_file()),
                               grpc_stream);
  DictProxy da = a.dict(Unique("shared"));
  DictProxy db = b.dict(Unique("shared"));
  da.set("from", "framed");
  db.set("to", "grpc");
  EXPECT_EQ(db.get("from"), Value("framed"));
  EXPECT_EQ(da.get("to"), Value("grpc"));
}

TEST_F(FramedTest, AnUnknownTransportInTheEnvironmentIsAValueError) {
  const char* before = std::getenv("SHOAL_TRANSPORT");
  const std::string saved = before != nullptr ? before : "";
  setenv("SHOAL_TRANSPORT", "carrier-pigeon", 1);
  EXPECT_THROW(Connect(), ValueError);
  if (before != nullptr) {
    setenv("SHOAL_TRANSPORT", saved.c_str(), 1);
  } else {
    unsetenv("SHOAL_TRANSPORT");
  }
}

// Whether this process may make an io_uring (the server, started by it,
// may then too).
bool IoUringAllowed() {
  io_uring_params params{};
  const long fd = syscall(SYS_io_uring_setup, 2, &params);
  if (fd < 0) return false;
  close(static_cast<int>(fd));
  return true;
}

// Whether process pid holds an io_uring.
bool HoldsAnIoUring(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* fds = opendir(dir.c_str());
  if (fds == nullptr) return false;
  bool found = false;
  while (dirent* entry = readdir(fds)) {
    char target[64] = {};
    const std::string path = dir + "/" + entry->d_name;
    if (readlink(path.c_str(), target, sizeof(target) - 1) > 0 &&
        std::string(target) == "anon_inode:[io_uring]") {
      found = true;
    }
  }
  closedir(fds);
  return found;
}

// Connections calling at once on one event loop, a frame of kCalls calls at
// a time each: every reply reaches its own connection, in order. With the
// loop's sends batched, the replies of a turn go out together (SendBatch),
// through an io_uring of the server's where it may make one; without, each
// connection's at once.
void ManyConnectionsCallAtOnce(const ServerProcess& server, bool batched) {
  constexpr int kConnections = 12;
  constexpr int kFrames = 100;
  constexpr uint64_t kCalls = 4;
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kConnections; ++c) {
    threads.emplace_back([&] {
      RawClient raw(server.address());
      const std::string token = raw.Login(server.authkey());
      FramedSocket socket(raw.last_answer().framed().port());
      ASSERT_TRUE(socket.connected());
      uint64_t next_id = 1;
      for (int f = 0; f < kFrames; ++f) {
        v1::ClientFrame frame = f == 0 ? Hello(token) : v1::ClientFrame();
        for (uint64_t i = 0; i < kCalls; ++i) {
          AddCall(&frame, next_id + i, "/shoal.v1.Manager/ListSessions",
                  v1::ListSessionsRequest());
        }
        ASSERT_TRUE(socket.Write(frame));
        for (uint64_t got = 0; got < kCalls;) {
          v1::ServerFrame reply;
          ASSERT_TRUE(socket.Read(&reply)) << "call " << next_id;
          for (const v1::Reply& one : reply.replies()) {
            ASSERT_EQ(one.call_id(), next_id);
            ASSERT_EQ(one.code(), 0);
            ++next_id;
            ++got;
            answered.fetch_add(1);
          }
        }
      }
      socket.WritesDone();
      EXPECT_EQ(socket.ReadUntilEnd().code(), 0);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(answered.load(), kConnections * kFrames * static_cast<int>(kCalls));
  // Twelve connections a call apart on one loop have shared its turns.
  EXPECT_EQ(HoldsAnIoUring(server.pid()), batched && IoUringAllowed());
}

TEST(FramedLoopTest, ConnectionsCallingAtOnceOnOneLoopGetTheirOwnReplies) {
  ManyConnectionsCallAtOnce(ServerProcess({"--session_threads=1"}), true);
}

TEST(FramedLoopTest, ConnectionsCallingAtOnceGetTheirOwnRepliesWithoutBatchedSends) {
  ManyConnectionsCallAtOnce(
      ServerProcess({"--session_threads=1", "--session_batch_sends=false"}), false);
}

// A parked get completed by another connection's put on the same loop: the
// getter's reply is made while the loop serves the putter, and goes with the
// turn's other replies.
TEST(FramedLoopTest, AParkedCallCompletedByAnotherConnectionOfTheLoopIsAnswered) {
  ServerProcess server({"--session_threads=1"});
  const AuthKey key = AuthKey::from_file(server.authkey_file());
  ConnectOptions framed;
  framed.transport = Transport::kFramed;
  Manager getter = Manager::connect(server.address(), key, framed);
  Manager putter = Manager::connect(server.address(), key, framed);
  QueueProxy got_from = getter.Queue(0, "handed-over");
  QueueProxy put_into = putter.Queue(0, "handed-over");
  constexpr int kItems = 300;
  std::vector<int64_t> got;
  std::thread getting([&] {
    for (int i = 0; i < kItems; ++i) got.push_back(got_from.get().as_int());
  });
  for (int i = 0; i < kItems; ++i) put_into.put(Value(i));
  getting.join();
  ASSERT_EQ(got.size(), static_cast<size_t>(kItems));
  for (int i = 0; i < kItems; ++i) EXPECT_EQ(got[i], i);
}

TEST(FramedOffTest, AServerWithoutItIsReachedOverTheGrpcStream) {
  ServerProcess server({"--session_listen=none"});
  const AuthKey key = AuthKey::from_file(server.authkey_file());
  ConnectOptions framed;
  framed.transport = Transport::kFramed;
  EXPECT_THROW(Manager::connect(server.address(), key, framed), ConnectionError);
  ConnectOptions automatic;
  automatic.transport = Transport::kAuto;
  Manager m = Manager::connect(server.address(), key, automatic);
  ValueProxy value = m.Value("i", Value(1));
  value.set(2);
  EXPECT_EQ(value.get(), Value(2));
}

TEST(FramedUnixTest, AUnixSocketServerOffersAUnixSocket) {
  char dir[] = "/tmp/shoal-framed-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/shoal.sock";
  {
    ServerProcess server({"--listen=unix:" + path});
    ASSERT_EQ(server.address(), "unix:" + path);
    ConnectOptions framed;
    framed.transport = Transport::kFramed;
    Manager m = Manager::connect(server.address(), AuthKey::from_file(server.authkey_file()),
                                 framed);
    ListProxy list = m.list();
    list.extend(Ints({1, 2}));
    EXPECT_EQ(list.len(), 2u);
    EXPECT_EQ(access((path + ".framed").c_str(), F_OK), 0);
  }
  // The server removes its framed socket when it stops.
  EXPECT_NE(access((path + ".framed").c_str(), F_OK), 0);
  rmdir(dir);
}

}  // namespace
}  // namespace shoal::testing
