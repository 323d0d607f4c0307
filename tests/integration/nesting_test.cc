// The nesting limit of values, 64 levels of lists and dicts, the same on
// every way in: the client library refuses a deeper value before sending it,
// and the server refuses one with ValueError naming the limit, on the session
// stream and on the typed services grpcurl calls. A value nested far deeper
// (10,000 levels) is refused as cleanly, and the server goes on.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <fstream>
#include <string>

#include "integration/error_of.h"
#include "integration/fixture.h"
#include "integration/nesting.h"
#include "integration/raw_client.h"

namespace shoal::testing {
namespace {

constexpr int kLimit = 64;
constexpr char kTooDeep[] = "values nested deeper than 64 levels";
constexpr int kInvalidArgument = 3;  // google.rpc.Code

class NestingTest : public ServerTest {
 protected:
  // The server still serves, and list holds what it held.
  void ExpectListHolds(ListProxy& list, size_t items) {
    EXPECT_EQ(list.len(), items);
    list.append(1);
    EXPECT_EQ(list.len(), items + 1);
    list.pop();
  }
};

TEST_F(NestingTest, TheClientLibrarySendsSixtyFourLevelsAndRefusesSixtyFive) {
  Manager m = Connect();
  ListProxy list = m.list(Unique("list"));
  list.append(NestedLists(kLimit));
  list.append(NestedDicts(kLimit));
  EXPECT_EQ(list.get(0), NestedLists(kLimit));
  EXPECT_EQ(list.get(1), NestedDicts(kLimit));
  // What the server took it gives back, in the containers of its replies too.
  EXPECT_EQ(list.copy(), (Value::List{NestedLists(kLimit), NestedDicts(kLimit)}));
  DictProxy dict = m.dict(Unique("dict"));
  dict.set("k", NestedDicts(kLimit));
  EXPECT_EQ(dict.items().at(0).second, NestedDicts(kLimit));
  const Value::Dict copy = dict.copy();
  ASSERT_NE(copy.find(Value("k")), nullptr);
  EXPECT_EQ(*copy.find(Value("k")), NestedDicts(kLimit));

  // Refused before sending: a ValueError naming the limit, and nothing sent.
  for (const Value& too_deep : {NestedLists(kLimit + 1), NestedDicts(kLimit + 1)}) {
    const std::string message = ErrorOf<ValueError>([&] { list.append(too_deep); });
    EXPECT_NE(message.find(kTooDeep), std::string::npos) << message;
  }
  // Far deeper (a Value that deep is the caller's to build and destroy).
  const std::string message = ErrorOf<ValueError>([&] { list.append(NestedLists(1000)); });
  EXPECT_NE(message.find(kTooDeep), std::string::npos) << message;
  EXPECT_EQ(list.len(), 2u);
}

// The session stream over gRPC, driven by hand: the server's own checks.
TEST_F(NestingTest, TheSessionStreamTakesSixtyFourLevelsAndRefusesDeeper) {
  const std::string name = Unique("list");
  Manager m = Connect();
  ListProxy list = m.list(name);
  RawClient raw(server().address());
  RawStream stream(raw.channel(), raw.Login(server().authkey()));
  const uint64_t ok = stream.AddBytes("/shoal.v1.ListService/Append",
                                      AppendNestedRequest(name, kLimit));
  const uint64_t deeper = stream.AddBytes("/shoal.v1.ListService/Append",
                                          AppendNestedRequest(name, kLimit + 1));
  const uint64_t far_deeper = stream.AddBytes("/shoal.v1.ListService/Append",
                                              AppendNestedRequest(name, 10000));
  ASSERT_TRUE(stream.Send());
  ASSERT_TRUE(stream.Receive(3));
  EXPECT_EQ(stream.reply(ok).code(), 0) << stream.reply(ok).error_message();
  EXPECT_EQ(stream.reply(deeper).code(), kInvalidArgument);
  EXPECT_EQ(stream.reply(deeper).error_kind(), "ValueError");
  EXPECT_EQ(stream.reply(deeper).error_message(), kTooDeep);
  EXPECT_EQ(stream.reply(far_deeper).code(), kInvalidArgument);
  EXPECT_EQ(stream.reply(far_deeper).error_kind(), "ValueError");
  EXPECT_EQ(stream.reply(far_deeper).error_message(),
            "malformed request message, or values nested deeper than 64 levels");
  ExpectListHolds(list, 1);
}

// grpcurl's JSON of NestedLists(depth).
std::string NestedListJson(int depth) {
  std::string out;
  for (int i = 0; i < depth; ++i) out += "{\"list\":{\"items\":[";
  out += "{\"int\":\"1\"}";
  for (int i = 0; i < depth; ++i) out += "]}}";
  return out;
}

// The typed unary services, as grpcurl calls them.
TEST_F(NestingTest, GrpcurlAppendsSixtyFourLevelsAndIsRefusedDeeper) {
  const std::string name = Unique("list");
  Manager m = Connect();
  ListProxy list = m.list(name);
  RawClient raw(server().address());
  const std::string token = raw.Login(server().authkey());
  ASSERT_FALSE(token.empty());
  const std::string request_file = server().dir() + "/nested.json";
  auto append = [&](int depth, int* code) {
    std::ofstream(request_file) << "{\"name\":\"" << name
                                << "\",\"item\":" << NestedListJson(depth) << "}";
    return RunCommand("grpcurl -plaintext -max-msg-sz 1000000 -H 'authorization: Bearer " + token +
                          "' -d @ " + server().address() + " shoal.v1.ListService/Append < " +
                          request_file,
                      code);
  };
  int code = -1;
  std::string out = append(kLimit, &code);
  EXPECT_EQ(code, 0) << out;
  out = append(kLimit + 1, &code);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("InvalidArgument"), std::string::npos) << out;
  EXPECT_NE(out.find(std::string("ValueError: ") + kTooDeep), std::string::npos) << out;
  // Far past protobuf's recursion limit on the server.
  out = append(1000, &code);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("InvalidArgument"), std::string::npos) << out.substr(0, 2000);
  EXPECT_NE(out.find("ValueError: malformed request message, or values nested deeper than 64"),
            std::string::npos)
      << out.substr(0, 2000);
  // 10,000 levels: grpcurl's own JSON reader gives up first; nothing is sent.
  out = append(10000, &code);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("exceeded max depth"), std::string::npos) << out.substr(0, 2000);
  ExpectListHolds(list, 1);
}

}  // namespace
}  // namespace shoal::testing
