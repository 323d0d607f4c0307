// Writes the seed corpora of the fuzz targets from real messages: framed
// streams of real frames, handshakes that succeed and fail, a call of every
// method with a well-formed request on the objects of fuzz/dispatch_world.h,
// and values of every type. Usage: make_fuzz_corpus DIR (DIR/<target>/...).
// The seeds are committed under fuzz/corpus/; run this again after a change
// to the protocol, and commit what changed.
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fuzz/dispatch_world.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "shared/framing.h"
#include "shared/packed_values.h"
#include "shoal/v1/pool.pb.h"
#include "shoal/v1/auth.pb.h"
#include "shoal/v1/session.pb.h"
#include "shoal/v1/sync.pb.h"
#include "shoal/v1/value.pb.h"

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

std::string root;

void Write(const std::string& target, const std::string& name, const std::string& bytes) {
  const std::string dir = root + "/" + target;
  mkdir(dir.c_str(), 0755);
  std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
}

// Input for a target that reads it with FuzzedDataProvider: byte strings
// are taken from the front, numbers from the back (most significant byte
// first), so the two are built apart and joined.
class Provided {
 public:
  // ConsumeIntegralInRange(min, min + range) returning min + value.
  Provided& Int(uint64_t value, uint64_t range) {
    std::vector<uint8_t> bytes;
    for (uint64_t r = range; r > 0; r >>= 8) {
      bytes.push_back(static_cast<uint8_t>(value));
      value >>= 8;
    }
    for (auto it = bytes.rbegin(); it != bytes.rend(); ++it) back_.push_back(*it);
    return *this;
  }
  Provided& Bool(bool b) { return Int(b ? 1 : 0, 255); }
  // ConsumeBytesAsString(bytes.size()).
  Provided& Bytes(const std::string& bytes) {
    front_ += bytes;
    return *this;
  }
  // ConsumeRandomLengthString: a backslash doubled, then a terminator.
  Provided& Str(const std::string& s) {
    for (char c : s) {
      front_ += c;
      if (c == '\\') front_ += c;
    }
    front_ += "\\n";
    return *this;
  }
  std::string Done() const {
    return front_ + std::string(back_.rbegin(), back_.rend());
  }

 private:
  std::string front_;
  std::vector<uint8_t> back_;
};

// --- frame_reader -----------------------------------------------------------

void FrameReaderSeeds() {
  std::string stream;
  shoal::v1::ClientFrame first;
  first.set_token("0123456789abcdef0123456789abcdef");
  shoal::AppendFrame(first, &stream);
  shoal::v1::ClientFrame calls;
  for (int i = 1; i <= 3; ++i) {
    shoal::v1::Call* call = calls.add_calls();
    call->set_call_id(i);
    call->set_method("/shoal.v1.ListService/Append");
    call->set_request(std::string(10 * i, 'r'));
  }
  calls.add_cancels(2);
  shoal::AppendFrame(calls, &stream);
  shoal::v1::ServerFrame replies;
  replies.add_replies()->set_call_id(1);
  replies.mutable_end()->set_message("bye");
  shoal::AppendFrame(replies, &stream);
  shoal::AppendFrame(shoal::v1::ClientFrame(), &stream);  // An empty frame.

  const size_t chunkings[] = {1, 3, 4, 5, 17, 64};
  int n = 0;
  for (bool server : {true, false}) {
    for (size_t chunk : chunkings) {
      // Server: each limit index; client: no limit.
      for (int limit : server ? std::vector<int>{1, 4, 5} : std::vector<int>{-1}) {
        Provided p;
        p.Bool(server);
        if (server) p.Int(limit, 5);
        for (size_t at = 0; at < stream.size(); at += chunk) {
          const size_t len = std::min(chunk, stream.size() - at);
          p.Int(len, 64).Bytes(stream.substr(at, len));
          if (server) p.Int(chunk % 5, 4);  // The room asked for.
        }
        Write("frame_reader", absl::StrCat("stream_", n++), p.Done());
      }
    }
  }
  // A header past the limit, and one that says 4 bytes but stops short.
  Write("frame_reader", "past_limit",
        Provided().Bool(true).Int(2, 5).Int(8, 64).Bytes(std::string("\0\0\1\0abcd", 8)).Int(0, 4).Done());
  Write("frame_reader", "short_frame",
        Provided().Bool(false).Int(6, 64).Bytes(std::string("\0\0\0\4ab", 6)).Done());
}

// --- handshake --------------------------------------------------------------

enum Step { kIssue = 0, kRight, kWrong, kUnknown, kWait, kExpire, kReply, kHeader };

void HandshakeSeeds() {
  const std::string nonce(32, 'n');
  // A challenge that is issued takes two more numbers: which byte of its
  // proof to forge, and how.
  auto issue = [&](Provided& p, const std::string& nonce, bool issued = true) {
    p.Int(kIssue, 7).Str(nonce);
    if (issued && nonce.size() >= 16 && nonce.size() <= 64) p.Int(5, 31).Int(1, 254);
  };
  int n = 0;
  for (bool key : {true, false}) {
    Provided ok;
    ok.Bool(key);
    issue(ok, nonce);
    ok.Int(kRight, 7).Str("worker-1");
    ok.Int(kHeader, 7).Str("Bearer nothing");
    Write("handshake", absl::StrCat("login_", n++), ok.Done());
  }
  {
    Provided replay;
    replay.Bool(true);
    issue(replay, nonce);
    replay.Int(kRight, 7).Str("a").Int(kRight, 7).Str("b");
    Write("handshake", "replay", replay.Done());
  }
  {
    Provided wrong;
    wrong.Bool(true);
    issue(wrong, nonce);
    wrong.Int(kWrong, 7).Str(std::string(32, 'p')).Int(kRight, 7).Str("c");
    Write("handshake", "wrong_proof", wrong.Done());
  }
  {
    Provided late;
    late.Bool(true);
    issue(late, nonce);
    late.Int(kWait, 7).Int(10001, 20000).Int(kExpire, 7).Int(kRight, 7).Str("d");
    Write("handshake", "expired", late.Done());
  }
  {
    Provided many;
    many.Bool(true);
    // Four wait at most: the fifth and sixth are refused.
    for (int i = 0; i < 6; ++i) issue(many, std::string(16 + i, 'a' + i), i < 4);
    many.Int(kRight, 7).Int(2, 3).Str("e");
    many.Int(kWait, 7).Int(20000, 20000);
    issue(many, nonce);
    Write("handshake", "limit", many.Done());
  }
  for (const std::string& bad : {std::string(), std::string(15, 'x'), std::string(65, 'y')}) {
    Provided p;
    p.Bool(true);
    issue(p, bad);
    Write("handshake", absl::StrCat("bad_nonce_", bad.size()), p.Done());
  }
  {
    Provided p;
    p.Bool(true).Int(kUnknown, 7).Str("00112233445566778899aabbccddeeff").Str(std::string(32, 'q'));
    shoal::v1::ChallengeReply reply;
    reply.set_challenge_id("abc");
    reply.set_server_nonce(std::string(32, 's'));
    reply.set_server_proof(std::string(32, 'p'));
    p.Int(kReply, 7).Str(reply.SerializeAsString()).Str(nonce);
    for (const char* header : {"Bearer ", "bearer abc", "Basic abc", ""}) {
      p.Int(kHeader, 7).Str(header);
    }
    Write("handshake", "hostile", p.Done());
  }
}

// --- dispatch ---------------------------------------------------------------

// A well-formed request of type for an object of kind: the id of object
// index, a value or two wherever the message takes values, small numbers.
void Fill(Message& message, shoal::fuzz::World& world, shoal::Kind kind, int index,
          int depth) {
  const Descriptor* type = message.GetDescriptor();
  const auto* r = message.GetReflection();
  if (type->full_name() == "shoal.v1.Value") {
    static_cast<shoal::v1::Value&>(message).set_int_(index + 1);
    return;
  }
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    if (f->containing_oneof() != nullptr && f->index_in_oneof() != 0) continue;
    const std::string& name = f->name();
    if (name == "name") continue;  // The id names the object.
    const int copies = f->is_repeated() ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_MESSAGE: {
          if (depth > 3) break;
          Message* inner = f->is_repeated() ? r->AddMessage(&message, f)
                                            : r->MutableMessage(&message, f);
          Fill(*inner, world, kind, index, depth + 1);
          break;
        }
        case FieldDescriptor::CPPTYPE_UINT64:
          if (name == "id" && kind != shoal::Kind::kUnspecified) {
            r->SetUInt64(&message, f, world.id(kind, index));
          } else if (f->is_repeated()) {
            r->AddUInt64(&message, f, world.id(shoal::Kind::kList, c));
          } else {
            r->SetUInt64(&message, f, 1);
          }
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          f->is_repeated() ? r->AddInt64(&message, f, 1) : r->SetInt64(&message, f, 1);
          break;
        case FieldDescriptor::CPPTYPE_INT32:
          f->is_repeated() ? r->AddInt32(&message, f, 1) : r->SetInt32(&message, f, 1);
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          f->is_repeated() ? r->AddUInt32(&message, f, 1) : r->SetUInt32(&message, f, 1);
          break;
        case FieldDescriptor::CPPTYPE_DOUBLE:
          // Timeouts: 0 answers at once; a short one parks for a moment.
          if (!f->is_repeated()) r->SetDouble(&message, f, index == 0 ? 0.0 : 0.01);
          break;
        case FieldDescriptor::CPPTYPE_FLOAT:
          if (!f->is_repeated()) r->SetFloat(&message, f, 1.0f);
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          if (!f->is_repeated()) r->SetBool(&message, f, true);
          break;
        case FieldDescriptor::CPPTYPE_ENUM:
          if (!f->is_repeated()) r->SetEnumValue(&message, f, static_cast<int>(kind == shoal::Kind::kUnspecified ? shoal::Kind::kList : kind));
          break;
        case FieldDescriptor::CPPTYPE_STRING:
          f->is_repeated() ? r->AddString(&message, f, "k") : r->SetString(&message, f, "k");
          break;
      }
    }
  }
}

// Packed records (pool.proto) of the values: each a task's argument list
// when lists, else each a value.
std::string Records(const std::vector<int64_t>& values, bool lists) {
  std::string out;
  for (int64_t v : values) {
    std::string value;
    (void)shoal::AppendPackedValue(shoal::Value(v), &value);
    if (lists) {
      std::string items;
      shoal::AppendRecord(value, &items);
      value.clear();
      value.push_back(shoal::WireTag(shoal::v1::Value::kListFieldNumber,
                                     shoal::kWireLengthDelimited));
      shoal::AppendVarint(items.size(), &value);
      value += items;
    }
    shoal::AppendRecord(value, &out);
  }
  return out;
}

// A pool's packed round: a submit of three tasks, a packed pull, results
// reported by first index and listed, and fetches in order and unordered.
void PoolPackedSeed(shoal::fuzz::World& world) {
  const uint64_t pool = world.id(shoal::Kind::kPool, 0);
  shoal::v1::ClientFrame frame;
  uint64_t call_id = 100;
  auto add = [&](const char* method, const Message& request) {
    shoal::v1::Call* call = frame.add_calls();
    call->set_call_id(++call_id);
    call->set_method(absl::StrCat("/shoal.v1.PoolService/", method));
    call->set_request(request.SerializeAsString());
  };
  shoal::v1::SubmitRequest submit;
  submit.set_id(pool);
  submit.set_function("f");
  submit.set_chunksize(2);
  submit.mutable_packed()->set_first_index(0);
  submit.mutable_packed()->set_args(Records({1, 2, 3}, true));
  add("Submit", submit);
  shoal::v1::PullRequest pull;
  pull.set_id(pool);
  pull.set_packed(true);
  pull.set_timeout(0);
  add("Pull", pull);
  shoal::v1::ReportRequest consecutive;
  consecutive.set_id(pool);
  consecutive.mutable_packed_results()->set_job(1);
  consecutive.mutable_packed_results()->set_chunk(1);
  consecutive.mutable_packed_results()->set_first_index(0);
  consecutive.mutable_packed_results()->set_values(Records({1, 4}, false));
  add("Report", consecutive);
  add("Pull", pull);
  shoal::v1::ReportRequest listed;
  listed.set_id(pool);
  listed.mutable_packed_results()->set_job(1);
  listed.mutable_packed_results()->set_chunk(2);
  listed.mutable_packed_results()->add_indexes(2);
  listed.mutable_packed_results()->set_values(Records({9}, false));
  add("Report", listed);
  shoal::v1::ResultsRequest results;
  results.set_id(pool);
  results.set_job(1);
  results.set_max(2);
  results.set_packed(true);
  results.set_timeout(0);
  add("Results", results);
  results.set_unordered(true);
  results.set_max(0);
  add("Results", results);
  Write("dispatch", "pool_packed_round", frame.SerializeAsString());
}

void DispatchSeeds() {
  shoal::fuzz::World world;
  auto* factory = google::protobuf::MessageFactory::generated_factory();
  uint64_t call_id = 0;
  shoal::v1::ClientFrame all;
  for (const shoal::fuzz::TableKind& entry : shoal::fuzz::AllTables()) {
    for (const shoal::server::Method& row : entry.table->rows()) {
      shoal::v1::ClientFrame frame;
      for (int index = 0; index < shoal::fuzz::kObjectsPerKind; ++index) {
        std::unique_ptr<Message> request(factory->GetPrototype(row.request_type)->New());
        Fill(*request, world, entry.kind, index, 0);
        shoal::v1::Call* call = frame.add_calls();
        call->set_call_id(++call_id);
        call->set_method(row.path);
        call->set_request(request->SerializeAsString());
        if (index == 0) *all.add_calls() = *call;
      }
      const std::string name = row.path.substr(row.path.find(".v1.") + 4);
      std::string file = name;
      for (char& c : file) c = c == '/' ? '_' : c;
      Write("dispatch", file, frame.SerializeAsString());
    }
  }
  Write("dispatch", "every_method", all.SerializeAsString());
  // The frame-level features: cancels, close, duplicate ids, a bad method,
  // a malformed request.
  shoal::v1::ClientFrame frame;
  shoal::v1::TimedRequest wait;
  wait.set_name(shoal::fuzz::ObjectName(shoal::Kind::kEvent, 0));
  shoal::v1::Call* call = frame.add_calls();
  call->set_call_id(7);
  call->set_method("/shoal.v1.EventService/Wait");
  call->set_request(wait.SerializeAsString());
  *frame.add_calls() = *call;
  frame.add_cancels(7);
  Write("dispatch", "cancel_parked", frame.SerializeAsString());
  call = frame.add_calls();
  call->set_call_id(8);
  call->set_method("/shoal.v1.Nothing/Here");
  call = frame.add_calls();
  call->set_call_id(9);
  call->set_method("/shoal.v1.ListService/Append");
  call->set_request("\xff\xff\xff");
  frame.set_close(true);
  Write("dispatch", "close_and_errors", frame.SerializeAsString());
  PoolPackedSeed(world);
}

// --- value_codec ------------------------------------------------------------

void ValueSeeds() {
  std::vector<shoal::v1::Value> values(14);
  values[0].set_none(true);
  values[1].set_bool_(true);
  values[2].set_int_(-42);
  values[3].set_int_(std::numeric_limits<int64_t>::min());
  values[4].set_float_(2.5);
  values[5].set_float_(std::numeric_limits<double>::quiet_NaN());
  values[6].set_str("h\xc3\xa9llo");
  values[7].set_bytes(std::string("\0\xff", 2));
  values[8].mutable_ref()->set_id(7);
  values[8].mutable_ref()->set_kind(shoal::v1::LIST);
  for (int i = 0; i < 3; ++i) values[9].mutable_list()->add_items()->set_int_(i);
  values[9].mutable_list()->add_items()->set_str("x");
  {
    auto* dict = values[10].mutable_dict();
    auto* e = dict->add_entries();
    e->mutable_key()->set_str("a");
    e->mutable_value()->set_int_(1);
    e = dict->add_entries();
    e->mutable_key()->set_int_(1);
    *e->mutable_value() = values[9];
    e = dict->add_entries();
    e->mutable_key()->set_float_(1.0);  // Equal to the key 1.
    e->mutable_value()->set_none(true);
  }
  {
    shoal::v1::Value* v = &values[11];
    for (int i = 0; i < 70; ++i) v = v->mutable_list()->add_items();
    v->set_int_(1);
  }
  {
    auto* e = values[12].mutable_dict()->add_entries();
    e->mutable_key()->mutable_list();  // Unhashable.
  }
  values[13].mutable_ref()->set_kind(static_cast<shoal::v1::Kind>(99));
  for (size_t i = 0; i < values.size(); ++i) {
    Write("value_codec", absl::StrCat("value_", i), values[i].SerializeAsString());
  }
}

// Session frames as clients and servers write them, and in the forms the
// in-place readers leave to protobuf (unpacked ids, a login message).
void SessionFrameSeeds() {
  shoal::v1::ClientFrame calls;
  for (uint64_t id : {1, 2, 300}) {
    shoal::v1::Call* call = calls.add_calls();
    call->set_call_id(id);
    call->set_method("/shoal.v1.ValueService/Add");
    call->set_request(std::string("\x08\x05\x1a\x02\x18\x01", 6));
  }
  calls.add_acks(7);
  calls.add_acks(1u << 20);
  calls.add_cancels(2);
  Write("session_frames", "client_calls", calls.SerializeAsString());
  std::string unpacked;
  for (uint64_t id : {5, 6}) {
    unpacked.push_back(static_cast<char>((8 << 3) | 0));
    unpacked.push_back(static_cast<char>(id));
  }
  unpacked += std::string("\x38\x01", 2);  // heartbeat
  Write("session_frames", "client_unpacked_acks", unpacked);
  shoal::v1::ClientFrame login;
  login.set_token("token");
  login.mutable_challenge()->set_client_nonce("nonce");
  Write("session_frames", "client_login", login.SerializeAsString());
  shoal::v1::ServerFrame replies;
  shoal::v1::Reply* ok = replies.add_replies();
  ok->set_call_id(1);
  ok->set_response(std::string("\x0a\x02\x18\x06", 4));
  shoal::v1::Reply* failed = replies.add_replies();
  failed->set_call_id(2);
  failed->set_code(5);
  failed->set_error_kind("KeyError");
  failed->set_error_message("'missing'");
  Write("session_frames", "server_replies", replies.SerializeAsString());
  shoal::v1::ServerFrame end;
  end.mutable_end()->set_code(14);
  Write("session_frames", "server_end", end.SerializeAsString());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  root = argv[1];
  mkdir(root.c_str(), 0755);
  FrameReaderSeeds();
  HandshakeSeeds();
  DispatchSeeds();
  ValueSeeds();
  SessionFrameSeeds();
  return 0;
}
