#include "server/core/sessions.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "shared/error_kind.h"

namespace shoal::server {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1000000);

// The ids of the sessions Expire ended.
std::vector<SessionId> Ids(const std::vector<ExpiredSession>& expired) {
  std::vector<SessionId> ids;
  for (const ExpiredSession& session : expired) ids.push_back(session.id);
  return ids;
}

// A link whose stream records how it was ended, in ended.
std::shared_ptr<StreamLink> Link(absl::Time now, std::vector<std::string>* ended = nullptr) {
  return std::make_shared<StreamLink>(now, [ended](const absl::Status& why) {
    if (ended != nullptr) ended->emplace_back(why.message());
  });
}

TEST(Sessions, TokenAuthenticatesItsSession) {
  Sessions sessions(absl::Seconds(30), absl::Seconds(2));
  auto [id, token] = sessions.Open("worker", "ipv4:127.0.0.1:1", kStart);
  auto found = sessions.Authenticate(token, kStart);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, id);
}

TEST(Sessions, ForgedTokenIsRefused) {
  Sessions sessions(absl::Seconds(30), absl::Seconds(2));
  auto [id, token] = sessions.Open("worker", "peer", kStart);
  std::string forged = token;
  forged[0] = forged[0] == 'a' ? 'b' : 'a';
  EXPECT_EQ(ErrorKindOf(sessions.Authenticate(forged, kStart).status()),
            ErrorKind::kAuthenticationError);
  EXPECT_EQ(ErrorKindOf(sessions.Authenticate("", kStart).status()),
            ErrorKind::kAuthenticationError);
}

TEST(Sessions, LeaseExpiresWithoutCalls) {
  Sessions sessions(absl::Seconds(30), absl::Seconds(2));
  auto [id, token] = sessions.Open("worker", "peer", kStart);
  EXPECT_TRUE(sessions.Expire(kStart + absl::Seconds(29)).empty());
  // A call renews the lease.
  ASSERT_TRUE(sessions.Authenticate(token, kStart + absl::Seconds(29)).ok());
  EXPECT_TRUE(sessions.Expire(kStart + absl::Seconds(58)).empty());
  EXPECT_EQ(Ids(sessions.Expire(kStart + absl::Seconds(60))), std::vector<SessionId>{id});
  EXPECT_FALSE(sessions.Authenticate(token, kStart + absl::Seconds(60)).ok());
}

// A call reads its session's liveness from the ledger, without the
// sessions' lock: the ledger says ended exactly when Alive says no.
TEST(Sessions, ALedgerSaysItsSessionEndedAsAliveDoes) {
  Sessions sessions(absl::Seconds(30), absl::Seconds(2));
  auto [closed, closed_token] = sessions.Open("worker", "peer", kStart);
  auto [expired, expired_token] = sessions.Open("worker", "peer", kStart + absl::Seconds(20));
  std::shared_ptr<CallLedger> closed_ledger = sessions.Ledger(closed);
  std::shared_ptr<CallLedger> expired_ledger = sessions.Ledger(expired);
  ASSERT_NE(closed_ledger, nullptr);
  ASSERT_NE(expired_ledger, nullptr);
  EXPECT_TRUE(sessions.Alive(closed));
  EXPECT_FALSE(closed_ledger->ended());
  EXPECT_FALSE(expired_ledger->ended());

  ASSERT_TRUE(sessions.Close(closed));
  EXPECT_FALSE(sessions.Alive(closed));
  EXPECT_TRUE(closed_ledger->ended());
  EXPECT_FALSE(expired_ledger->ended());

  EXPECT_EQ(Ids(sessions.Expire(kStart + absl::Seconds(60))), std::vector<SessionId>{expired});
  EXPECT_FALSE(sessions.Alive(expired));
  EXPECT_TRUE(expired_ledger->ended());
}

TEST(Sessions, StreamHeardFromKeepsSessionAliveThenGraceApplies) {
  Sessions sessions(absl::Seconds(30), absl::Seconds(2));
  auto [id, token] = sessions.Open("worker", "peer", kStart);
  std::shared_ptr<StreamLink> link = Link(kStart);
  ASSERT_TRUE(sessions.AttachStream(id, link));
  // Heard from every 20 s, for hours: each sign of life renews the lease.
  absl::Time now = kStart;
  for (int i = 0; i < 1000; ++i) {
    now += absl::Seconds(20);
    EXPECT_TRUE(sessions.Expire(now).empty());
    link->Heard(now);
  }
  sessions.DetachStream(id, link.get(), now);
  EXPECT_TRUE(sessions.Expire(now + absl::Seconds(1)).empty());
  EXPECT_EQ(Ids(sessions.Expire(now + absl::Seconds(2))), std::vector<SessionId>{id});
}

TEST(Sessions, StreamNotHeardFromForTheLeaseEndsWithItsSession) {
  Sessions sessions(absl::Seconds(30), absl::Seconds(2));
  auto [id, token] = sessions.Open("worker", "peer", kStart);
  std::vector<std::string> ended;
  std::shared_ptr<StreamLink> link = Link(kStart, &ended);
  ASSERT_TRUE(sessions.AttachStream(id, link));
  link->Heard(kStart + absl::Seconds(10));
  EXPECT_TRUE(sessions.Expire(kStart + absl::Seconds(39)).empty());
  std::vector<ExpiredSession> expired = sessions.Expire(kStart + absl::Seconds(40));
  ASSERT_EQ(Ids(expired), std::vector<SessionId>{id});
  // The streams still attached come with it, for the caller to end.
  ASSERT_EQ(expired[0].streams.size(), 1u);
  EXPECT_EQ(expired[0].streams[0], link);
  EXPECT_FALSE(sessions.Alive(id));
  link->End(absl::UnavailableError("no heartbeat"));
  link->End(absl::UnavailableError("twice"));
  EXPECT_EQ(ended, std::vector<std::string>{"no heartbeat"});
}

TEST(Sessions, EachStreamAndEachCallIsASignOfLife) {
  Sessions sessions(absl::Seconds(30), absl::Seconds(2));
  auto [id, token] = sessions.Open("worker", "peer", kStart);
  std::shared_ptr<StreamLink> quiet = Link(kStart);
  std::shared_ptr<StreamLink> talking = Link(kStart);
  ASSERT_TRUE(sessions.AttachStream(id, quiet));
  ASSERT_TRUE(sessions.AttachStream(id, talking));
  talking->Heard(kStart + absl::Seconds(25));
  EXPECT_TRUE(sessions.Expire(kStart + absl::Seconds(50)).empty());
  // A unary call with the session's token counts too.
  ASSERT_TRUE(sessions.Authenticate(token, kStart + absl::Seconds(50)).ok());
  EXPECT_TRUE(sessions.Expire(kStart + absl::Seconds(79)).empty());
  EXPECT_EQ(Ids(sessions.Expire(kStart + absl::Seconds(80))), std::vector<SessionId>{id});
}

TEST(Sessions, ADetachedLinkNoLongerEndsItsStream) {
  Sessions sessions(absl::Seconds(30), absl::Seconds(2));
  auto [id, token] = sessions.Open("worker", "peer", kStart);
  std::vector<std::string> ended;
  std::shared_ptr<StreamLink> link = Link(kStart, &ended);
  ASSERT_TRUE(sessions.AttachStream(id, link));
  link->Detach();
  link->End(absl::UnavailableError("no heartbeat"));
  EXPECT_TRUE(ended.empty());
}

TEST(Sessions, ListingShowsWhenASessionWithAStreamEndsUnlessHeardFrom) {
  Sessions sessions(absl::Seconds(30), absl::Seconds(2));
  auto [id, token] = sessions.Open("worker", "peer", kStart);
  std::shared_ptr<StreamLink> link = Link(kStart);
  ASSERT_TRUE(sessions.AttachStream(id, link));
  link->Heard(kStart + absl::Seconds(5));
  std::vector<SessionInfo> listed = sessions.List();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].streams, 1);
  EXPECT_EQ(listed[0].deadline, kStart + absl::Seconds(35));
}

TEST(Sessions, CallInProgressHoldsTheLeaseWhichRunsFromItsEnd) {
  Sessions sessions(absl::Seconds(30), absl::Seconds(2));
  auto [id, token] = sessions.Open("grpcurl", "peer", kStart);
  ASSERT_TRUE(sessions.BeginCall(id));
  ASSERT_TRUE(sessions.BeginCall(id));
  EXPECT_TRUE(sessions.Expire(kStart + absl::Hours(1)).empty());
  sessions.EndCall(id, kStart + absl::Hours(1));
  // One call still runs.
  EXPECT_TRUE(sessions.Expire(kStart + absl::Hours(2)).empty());
  sessions.EndCall(id, kStart + absl::Hours(2));
  EXPECT_TRUE(sessions.Expire(kStart + absl::Hours(2) + absl::Seconds(29)).empty());
  EXPECT_EQ(Ids(sessions.Expire(kStart + absl::Hours(2) + absl::Seconds(30))),
            std::vector<SessionId>{id});
  EXPECT_FALSE(sessions.BeginCall(id));
}

TEST(Sessions, ClosedSessionCannotAttach) {
  Sessions sessions(absl::Seconds(30), absl::Seconds(2));
  auto [id, token] = sessions.Open("worker", "peer", kStart);
  EXPECT_TRUE(sessions.Close(id));
  EXPECT_FALSE(sessions.Close(id));
  EXPECT_FALSE(sessions.AttachStream(id, Link(kStart)));
  EXPECT_FALSE(sessions.Alive(id));
}

TEST(Sessions, AResumableSessionIsResumedWithItsSecretAndSaysWhyItEnded) {
  Sessions sessions(absl::Seconds(30), absl::Seconds(2));
  std::string secret;
  auto [id, token] = sessions.Open("worker", "peer", kStart, &secret);
  ASSERT_FALSE(secret.empty());
  EXPECT_TRUE(sessions.Ledger(id)->keeps_replies());
  absl::StatusOr<std::string> resumed = sessions.Resume(id, secret, kStart);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(*resumed, token);
  EXPECT_EQ(ErrorKindOf(sessions.Resume(id, "not the secret", kStart).status()),
            ErrorKind::kAuthenticationError);

  auto link = Link(kStart);
  ASSERT_TRUE(sessions.AttachStream(id, link));
  sessions.DetachStream(id, link.get(), kStart);
  EXPECT_EQ(Ids(sessions.Expire(kStart + absl::Seconds(3))), std::vector<SessionId>{id});
  const absl::Status ended = sessions.Resume(id, secret, kStart + absl::Seconds(3)).status();
  EXPECT_EQ(ErrorKindOf(ended), ErrorKind::kSessionExpired);
  EXPECT_EQ(ended.message(), "session " + std::to_string(id) +
                                 " has ended: its connection broke and none came back within "
                                 "the grace of 2s");
}

// The client resumes because its old connection is dead to it, though the
// server may still take it for alive (a path gone silent): the resume ends
// the streams still attached, and a wrong secret ends nothing.
TEST(Sessions, AResumeEndsTheStreamsStillAttached) {
  Sessions sessions(absl::Seconds(30), absl::Seconds(2));
  std::string secret;
  auto [id, token] = sessions.Open("worker", "peer", kStart, &secret);
  std::vector<std::string> ended;
  auto old = Link(kStart, &ended);
  ASSERT_TRUE(sessions.AttachStream(id, old));
  ASSERT_FALSE(sessions.Resume(id, "not the secret", kStart).ok());
  EXPECT_TRUE(ended.empty());
  ASSERT_TRUE(sessions.Resume(id, secret, kStart + absl::Seconds(1)).ok());
  EXPECT_EQ(ended, std::vector<std::string>{"session " + std::to_string(id) +
                                            " was resumed on another connection"});
  // The new stream attaches; the old one detaches when its transport is
  // done with it, and the session lives on.
  auto resumed = Link(kStart + absl::Seconds(1));
  ASSERT_TRUE(sessions.AttachStream(id, resumed));
  sessions.DetachStream(id, old.get(), kStart + absl::Seconds(1));
  EXPECT_TRUE(sessions.Expire(kStart + absl::Seconds(10)).empty());
  EXPECT_TRUE(sessions.Authenticate(token, kStart + absl::Seconds(10)).ok());
}

TEST(Sessions, ASessionOpenedWithoutASecretCannotBeResumed) {
  Sessions sessions(absl::Seconds(30), absl::Seconds(2));
  auto [id, token] = sessions.Open("worker", "peer", kStart);
  EXPECT_FALSE(sessions.Ledger(id)->keeps_replies());
  EXPECT_EQ(ErrorKindOf(sessions.Resume(id, "", kStart).status()),
            ErrorKind::kAuthenticationError);
}

}  // namespace
}  // namespace shoal::server
