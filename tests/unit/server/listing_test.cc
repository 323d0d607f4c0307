#include "server/core/listing.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "server/core/registry.h"
#include "server/core/sessions.h"
#include "server/objects/array_object.h"
#include "server/objects/object.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1000000);

// An object of any kind whose holdings and repr the test sets.
class StubObject : public Object {
 public:
  StubObject(Kind kind, std::string repr, Holdings holdings)
      : Object(kind), repr_(std::move(repr)), holdings_(std::move(holdings)) {}
  std::string Repr() const override { return repr_; }
  int64_t Size() const override { return 7; }
  Holdings Held() const override { return holdings_; }

 private:
  const std::string repr_;
  const Holdings holdings_;
};

class ListingTest : public ::testing::Test {
 protected:
  // Enters a stub object for session, named name (anonymous when empty).
  uint64_t Add(SessionId session, Kind kind, const std::string& name, std::string repr,
               Holdings holdings = {}) {
    auto created = registry_.Create(
        session, kind, name, [&]() -> absl::StatusOr<std::unique_ptr<Object>> {
          return std::unique_ptr<Object>(
              std::make_unique<StubObject>(kind, std::move(repr), std::move(holdings)));
        });
    EXPECT_TRUE(created.ok()) << created.status();
    return created->first;
  }

  Registry registry_{0};
  Sessions sessions_{absl::Seconds(30), absl::Seconds(2)};
};

TEST_F(ListingTest, AnArrayShowsItsTypecodeAndLength) {
  const SessionId alice = sessions_.Open("alice", "peer-a", kStart).first;
  auto created = registry_.Create(
      alice, Kind::kArray, "samples", []() -> absl::StatusOr<std::unique_ptr<Object>> {
        absl::StatusOr<std::unique_ptr<ArrayObject>> array =
            ArrayObject::Create(nullptr, "h", Value::list({1, 2, 3}));
        if (!array.ok()) return array.status();
        return std::unique_ptr<Object>(*std::move(array));
      });
  ASSERT_TRUE(created.ok()) << created.status();

  absl::StatusOr<ObjectListing> described = DescribeObject(registry_, sessions_, 0, "samples");
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(described->kind, Kind::kArray);
  EXPECT_EQ(described->typecode, "h");
  EXPECT_EQ(described->size, 3);
  EXPECT_EQ(described->repr, "array('h', [1, 2, 3])");
  EXPECT_TRUE(described->holders.empty());
  const std::vector<ObjectListing> listed = ListObjects(registry_, sessions_).objects;
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].typecode, "h");
  EXPECT_EQ(listed[0].size, 3);
}

TEST_F(ListingTest, ObjectsShowTheirHoldersByClientName) {
  const SessionId alice = sessions_.Open("alice", "peer-a", kStart).first;
  const SessionId bob = sessions_.Open("bob", "peer-b", kStart).first;
  constexpr SessionId kEnded = 99;
  Holdings holdings;
  holdings.held = {{bob, 2}, {alice, 1}, {kEnded, 1}};
  holdings.waiting = {{alice, 3}, {bob, 1}};
  const uint64_t lock = Add(alice, Kind::kRLock, "door", "<RLock>", holdings);

  absl::StatusOr<ObjectListing> described = DescribeObject(registry_, sessions_, 0, "door");
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(described->id, lock);
  EXPECT_EQ(described->kind, Kind::kRLock);
  EXPECT_EQ(described->name, "door");
  EXPECT_EQ(described->session_refs, 1);
  EXPECT_EQ(described->size, 7);
  ASSERT_EQ(described->holders.size(), 3u);
  EXPECT_EQ(described->holders[0].session, alice);
  EXPECT_EQ(described->holders[0].client, "alice");
  EXPECT_EQ(described->holders[1].session, bob);
  EXPECT_EQ(described->holders[1].client, "bob");
  EXPECT_EQ(described->holders[1].count, 2);
  // A holder whose session is gone shows without a name.
  EXPECT_EQ(described->holders[2].session, kEnded);
  EXPECT_EQ(described->holders[2].client, "");
  EXPECT_EQ(described->waiting, 4);
  EXPECT_EQ(ErrorKindOf(DescribeObject(registry_, sessions_, 0, "window").status()),
            ErrorKind::kKeyError);
}

TEST_F(ListingTest, ListingCutsLongReprsAndDescribeGivesThemWhole) {
  const SessionId alice = sessions_.Open("alice", "peer", kStart).first;
  const std::string long_repr(500, 'x');
  const uint64_t id = Add(alice, Kind::kList, "", long_repr);
  Add(alice, Kind::kDict, "", "{}");
  std::vector<ObjectListing> listed = ListObjects(registry_, sessions_).objects;
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].id, id);
  EXPECT_EQ(listed[0].repr, std::string(200, 'x') + "...");
  EXPECT_EQ(listed[1].repr, "{}");
  // Only the synchronization kinds list holders.
  EXPECT_TRUE(listed[0].holders.empty());
  EXPECT_EQ(listed[0].waiting, 0);
  EXPECT_EQ(DescribeObject(registry_, sessions_, id, "")->repr, long_repr);
}

TEST_F(ListingTest, SessionsShowTheirRefsHoldingsAndLease) {
  const SessionId alice = sessions_.Open("alice", "peer-a", kStart).first;
  const SessionId bob = sessions_.Open("bob", "peer-b", kStart).first;
  // Bob's stream was last heard from 5 s after the start.
  auto bobs_stream = std::make_shared<StreamLink>(kStart + absl::Seconds(5), nullptr);
  ASSERT_TRUE(sessions_.AttachStream(bob, bobs_stream));
  Holdings lock_holdings;
  lock_holdings.held = {{alice, 1}};
  lock_holdings.waiting = {{bob, 1}};
  const uint64_t lock = Add(alice, Kind::kLock, "", "<Lock>", lock_holdings);
  Holdings queue_holdings;
  queue_holdings.waiting = {{bob, 2}};
  const uint64_t queue = Add(bob, Kind::kQueue, "jobs", "<Queue>", queue_holdings);
  Add(alice, Kind::kList, "", "[]");
  ASSERT_TRUE(registry_.Retain(alice, queue, "").ok());

  std::vector<SessionListing> listed =
      ListSessions(registry_, sessions_, kStart + absl::Seconds(10));
  ASSERT_EQ(listed.size(), 2u);
  const SessionListing& a = listed[0];
  EXPECT_EQ(a.id, alice);
  EXPECT_EQ(a.client, "alice");
  EXPECT_EQ(a.peer, "peer-a");
  EXPECT_EQ(a.streams, 0);
  ASSERT_TRUE(a.expires_in.has_value());
  EXPECT_EQ(*a.expires_in, absl::Seconds(20));
  EXPECT_EQ(a.refs, 3);
  ASSERT_EQ(a.holdings.size(), 1u);
  EXPECT_EQ(a.holdings[0].object_id, lock);
  EXPECT_EQ(a.holdings[0].kind, Kind::kLock);
  EXPECT_EQ(a.holdings[0].count, 1);
  EXPECT_EQ(a.holdings[0].waiting, 0);

  const SessionListing& b = listed[1];
  EXPECT_EQ(b.id, bob);
  EXPECT_EQ(b.streams, 1);
  ASSERT_TRUE(b.expires_in.has_value());
  EXPECT_EQ(*b.expires_in, absl::Seconds(25));
  EXPECT_EQ(b.refs, 1);
  // Ordered by object id: the lock, then the queue.
  ASSERT_EQ(b.holdings.size(), 2u);
  EXPECT_EQ(b.holdings[0].object_id, lock);
  EXPECT_EQ(b.holdings[0].count, 0);
  EXPECT_EQ(b.holdings[0].waiting, 1);
  EXPECT_EQ(b.holdings[1].object_id, queue);
  EXPECT_EQ(b.holdings[1].name, "jobs");
  EXPECT_EQ(b.holdings[1].waiting, 2);

  // A lease that ran out shows as zero, not less.
  listed = ListSessions(registry_, sessions_, kStart + absl::Seconds(60));
  EXPECT_EQ(*listed[0].expires_in, absl::ZeroDuration());
}

}  // namespace
}  // namespace shoal::server
