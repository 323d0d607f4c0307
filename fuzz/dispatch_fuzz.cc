// Decode and dispatch of every method on hostile input: the input is a
// session stream's ClientFrame (proto/shoal/v1/session.proto), served by
// SessionCore (the code both the gRPC stream and the framed transport hand
// their frames to) on a real in-process Core whose named objects of every
// kind (fuzz/dispatch_world.h) give the calls targets. Two sessions take
// part, so that calls can contend: a call with an even id goes to the
// first, an odd one to the second, in the frame's order. Then the frame's
// cancels go to both, its close to the first, and both streams end, which
// cancels what is still parked. Checked: every call is answered exactly once
// and both streams end, within a bound.
//
// State (the objects and what fuzzed calls made) carries over from input to
// input, and the world is made anew every kResetEvery inputs, so memory
// does not grow.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <condition_variable>
#include <string>
#include <utility>

#include "absl/time/clock.h"
#include "fuzz/dispatch_world.h"
#include "fuzz/proto_mutator.h"
#include "server/transport/session_core.h"
#include "shared/incarnation.h"
#include "shared/session_frames.h"
#include "shoal/v1/session.pb.h"

namespace {

using shoal::server::SessionCore;

constexpr int kResetEvery = 2000;
constexpr auto kAnswerBound = std::chrono::seconds(10);

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "dispatch_fuzz: %s\n", what.c_str());
  std::abort();
}

// One session stream, as a transport holds it: the sink counts the replies
// and notes the end. It is detached before it goes: a completion that runs
// later reaches the session's ledger, not the stream.
class Stream : public shoal::server::FrameSink {
 public:
  explicit Stream(shoal::fuzz::World& world)
      : session_(world.core(), world.dispatcher(), *this, SessionCore::InputEnd::kCancelParked) {}

  SessionCore& session() { return session_; }

  bool WriteLocked(std::string& replies) override {
    // The replies written in place must be a ServerFrame to protobuf too.
    shoal::v1::ServerFrame frame;
    if (!frame.ParseFromString(replies)) Fail("the replies written are not a ServerFrame");
    shoal::ServerFrameView view;
    if (!shoal::ReadServerFrame(replies, &view) ||
        view.replies.size() != static_cast<size_t>(frame.replies_size())) {
      Fail("the replies written are not read in place");
    }
    std::lock_guard<std::mutex> lock(mu_);
    replies_ += frame.replies_size();
    return true;
  }
  void FinishLocked(const absl::Status&) override {
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = true;
    done_.notify_all();
  }

  // Waits, within the bound, for the stream to end; the replies it carried.
  int AwaitEnd() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!done_.wait_for(lock, kAnswerBound, [this] { return finished_; })) {
      Fail("a stream did not end: a call was never answered");
    }
    return replies_;
  }

 private:
  SessionCore session_;
  std::mutex mu_;
  std::condition_variable done_;
  int replies_ = 0;
  bool finished_ = false;
};

std::unique_ptr<shoal::fuzz::World>& TheWorld() {
  static auto* world = new std::unique_ptr<shoal::fuzz::World>();
  return *world;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  shoal::fuzz::QuietProtobuf();
  TheWorld() = std::make_unique<shoal::fuzz::World>();
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned seed) {
  static const shoal::fuzz::ProtoMutator* mutator = [] {
    auto* m = new shoal::fuzz::ProtoMutator();
    std::vector<std::string> paths = shoal::fuzz::AllPaths();
    paths.push_back("/shoal.v1.Session/Stream");
    m->AddStrings("shoal.v1.Call.method", std::move(paths));
    std::vector<std::string> names;
    std::vector<shoal::Kind> kinds = {shoal::Kind::kPipe};
    for (const shoal::fuzz::TableKind& entry : shoal::fuzz::AllTables()) {
      if (entry.kind != shoal::Kind::kUnspecified) kinds.push_back(entry.kind);
    }
    for (const shoal::Kind kind : kinds) {
      for (int i = 0; i < shoal::fuzz::kObjectsPerKind; ++i) {
        names.push_back(shoal::fuzz::ObjectName(kind, i));
      }
    }
    for (const char* field : {"shoal.v1.ObjectRequest.name", "shoal.v1.ItemRequest.name",
                              "shoal.v1.ItemsRequest.name", "shoal.v1.TimedRequest.name",
                              "shoal.v1.CreateRequest.name", "shoal.v1.LookupRequest.name",
                              "shoal.v1.DeleteRequest.name"}) {
      m->AddStrings(field, names);
    }
    // The first world's incarnation, which its lookups pass, and another,
    // which they refuse (as do those of the worlds made after a reset).
    const uint64_t incarnation = TheWorld()->core().incarnation();
    m->AddStrings("shoal.v1.LookupRequest.incarnation",
                  {shoal::FormatIncarnation(incarnation), shoal::FormatIncarnation(~incarnation)});
    m->AddNested("shoal.v1.Call.request",
                 [](const google::protobuf::Message& call) -> const google::protobuf::Descriptor* {
                   const auto& c = static_cast<const shoal::v1::Call&>(call);
                   const shoal::server::Method* method =
                       TheWorld()->dispatcher().Find(c.method());
                   return method == nullptr ? nullptr : method->request_type;
                 });
    return m;
  }();
  return mutator->Mutate(shoal::v1::ClientFrame::default_instance(), data, size, max_size, seed);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shoal::v1::ClientFrame frame;
  if (!frame.ParseFromArray(data, static_cast<int>(size))) return -1;
  static int inputs = 0;
  if (++inputs % kResetEvery == 0) {
    TheWorld().reset();
    TheWorld() = std::make_unique<shoal::fuzz::World>();
  }
  shoal::fuzz::World& world = *TheWorld();

  std::unique_ptr<Stream> streams[2];
  shoal::server::SessionId sessions[2];
  int calls[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    auto [id, token] = world.core().sessions().Open("fuzz", "in-process", absl::Now());
    sessions[i] = id;
    streams[i] = std::make_unique<Stream>(world);
    if (!streams[i]->session().Attach(token)) Fail("a new session's stream was refused");
    streams[i]->session().HoldReplies();
  }
  // Each frame goes as a transport hands it on: read in place when it can
  // be, else parsed and viewed.
  auto deliver = [](Stream& stream, const shoal::v1::ClientFrame& message) {
    const std::string bytes = message.SerializeAsString();
    shoal::ClientFrameView view;
    if (!shoal::ReadClientFrame(bytes, &view)) shoal::ViewOf(message, &view);
    stream.session().OnFrame(view);
  };
  for (const shoal::v1::Call& call : frame.calls()) {
    const int to = static_cast<int>(call.call_id() % 2);
    shoal::v1::ClientFrame one;
    *one.add_calls() = call;
    deliver(*streams[to], one);
    ++calls[to];
  }
  shoal::v1::ClientFrame rest;
  *rest.mutable_cancels() = frame.cancels();
  deliver(*streams[1], rest);
  rest.set_close(frame.close());
  deliver(*streams[0], rest);
  for (auto& stream : streams) {
    stream->session().ReleaseReplies();
    stream->session().OnInputEnd();
  }
  for (int i = 0; i < 2; ++i) {
    const int replies = streams[i]->AwaitEnd();
    if (replies != calls[i]) {
      Fail("a stream answered " + std::to_string(replies) + " replies to " +
           std::to_string(calls[i]) + " calls");
    }
    streams[i]->session().Detach();
    world.core().EndSession(sessions[i]);
  }
  return 0;
}
