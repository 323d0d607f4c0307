#include "server/core/sessions.h"

#include <gtest/gtest.h>

#include "shared/error_kind.h"

namespace shoal::server {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1000000);

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
  EXPECT_EQ(sessions.Expire(kStart + absl::Seconds(60)), std::vector<SessionId>{id});
  EXPECT_FALSE(sessions.Authenticate(token, kStart + absl::Seconds(60)).ok());
}

TEST(Sessions, OpenStreamKeepsSessionAliveThenGraceApplies) {
  Sessions sessions(absl::Seconds(30), absl::Seconds(2));
  auto [id, token] = sessions.Open("worker", "peer", kStart);
  ASSERT_TRUE(sessions.AttachStream(id));
  EXPECT_TRUE(sessions.Expire(kStart + absl::Hours(5)).empty());
  sessions.DetachStream(id, kStart + absl::Hours(5));
  EXPECT_TRUE(sessions.Expire(kStart + absl::Hours(5) + absl::Seconds(1)).empty());
  EXPECT_EQ(sessions.Expire(kStart + absl::Hours(5) + absl::Seconds(2)),
            std::vector<SessionId>{id});
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
  EXPECT_EQ(sessions.Expire(kStart + absl::Hours(2) + absl::Seconds(30)),
            std::vector<SessionId>{id});
  EXPECT_FALSE(sessions.BeginCall(id));
}

TEST(Sessions, ClosedSessionCannotAttach) {
  Sessions sessions(absl::Seconds(30), absl::Seconds(2));
  auto [id, token] = sessions.Open("worker", "peer", kStart);
  EXPECT_TRUE(sessions.Close(id));
  EXPECT_FALSE(sessions.Close(id));
  EXPECT_FALSE(sessions.AttachStream(id));
  EXPECT_FALSE(sessions.Alive(id));
}

}  // namespace
}  // namespace shoal::server
