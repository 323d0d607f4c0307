#include "server/core/challenges.h"

#include <gtest/gtest.h>

#include "shared/error_kind.h"
#include "shared/hmac.h"

namespace shoal::server {
namespace {

const std::string kKey = "the-right-key";

class ChallengesTest : public ::testing::Test {
 protected:
  Challenges challenges_{kKey, absl::Seconds(10), 4};
  absl::Time now_ = absl::FromUnixSeconds(1000000);
  std::string client_nonce_ = RandomBytes(32);
};

TEST_F(ChallengesTest, ServerProofVerifiesWithTheKey) {
  auto issued = challenges_.Issue(client_nonce_, now_);
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_EQ(issued->server_proof, ServerProof(kKey, client_nonce_, issued->server_nonce));
  EXPECT_NE(issued->server_proof, ServerProof("another-key", client_nonce_, issued->server_nonce));
}

TEST_F(ChallengesTest, RightAnswerIsAccepted) {
  auto issued = challenges_.Issue(client_nonce_, now_);
  ASSERT_TRUE(issued.ok());
  EXPECT_TRUE(challenges_
                  .Redeem(issued->id, ClientProof(kKey, issued->server_nonce, client_nonce_),
                          now_ + absl::Seconds(1))
                  .ok());
}

TEST_F(ChallengesTest, WrongKeyIsRefused) {
  auto issued = challenges_.Issue(client_nonce_, now_);
  ASSERT_TRUE(issued.ok());
  absl::Status status = challenges_.Redeem(
      issued->id, ClientProof("wrong-key", issued->server_nonce, client_nonce_), now_);
  EXPECT_EQ(ErrorKindOf(status), ErrorKind::kAuthenticationError);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(ChallengesTest, ProofWithSwappedNoncesIsRefused) {
  // The server's own proof replayed as the client's answer must not pass.
  auto issued = challenges_.Issue(client_nonce_, now_);
  ASSERT_TRUE(issued.ok());
  EXPECT_FALSE(challenges_.Redeem(issued->id, issued->server_proof, now_).ok());
}

TEST_F(ChallengesTest, ReplayedChallengeIsRefused) {
  auto issued = challenges_.Issue(client_nonce_, now_);
  ASSERT_TRUE(issued.ok());
  const std::string proof = ClientProof(kKey, issued->server_nonce, client_nonce_);
  ASSERT_TRUE(challenges_.Redeem(issued->id, proof, now_).ok());
  absl::Status replay = challenges_.Redeem(issued->id, proof, now_);
  EXPECT_EQ(ErrorKindOf(replay), ErrorKind::kAuthenticationError);
}

TEST_F(ChallengesTest, FailedAnswerUsesTheChallengeUp) {
  auto issued = challenges_.Issue(client_nonce_, now_);
  ASSERT_TRUE(issued.ok());
  EXPECT_FALSE(challenges_.Redeem(issued->id, std::string(32, 'x'), now_).ok());
  // Guessing again at the same challenge is not possible.
  EXPECT_FALSE(challenges_
                   .Redeem(issued->id, ClientProof(kKey, issued->server_nonce, client_nonce_),
                           now_)
                   .ok());
}

TEST_F(ChallengesTest, ExpiredChallengeIsRefused) {
  auto issued = challenges_.Issue(client_nonce_, now_);
  ASSERT_TRUE(issued.ok());
  absl::Status late = challenges_.Redeem(
      issued->id, ClientProof(kKey, issued->server_nonce, client_nonce_), now_ + absl::Seconds(11));
  EXPECT_EQ(ErrorKindOf(late), ErrorKind::kAuthenticationError);
  EXPECT_NE(late.message().find("expired"), absl::string_view::npos);
}

// At the deadline itself the challenge has expired, for Redeem as for
// Expire, which forgets it then; whether it was still redeemable must not
// depend on whether housekeeping ran. Found by fuzz/handshake_fuzz.cc.
TEST_F(ChallengesTest, ChallengeHasExpiredAtItsDeadline) {
  auto issued = challenges_.Issue(client_nonce_, now_);
  ASSERT_TRUE(issued.ok());
  const std::string proof = ClientProof(kKey, issued->server_nonce, client_nonce_);
  absl::Status late = challenges_.Redeem(issued->id, proof, now_ + absl::Seconds(10));
  EXPECT_EQ(ErrorKindOf(late), ErrorKind::kAuthenticationError);
  EXPECT_NE(late.message().find("expired"), absl::string_view::npos);
  // Just before it, the same answer opens a session.
  issued = challenges_.Issue(client_nonce_, now_);
  ASSERT_TRUE(issued.ok());
  EXPECT_TRUE(challenges_
                  .Redeem(issued->id, ClientProof(kKey, issued->server_nonce, client_nonce_),
                          now_ + absl::Seconds(10) - absl::Nanoseconds(1))
                  .ok());
}

TEST_F(ChallengesTest, UnknownChallengeIsRefused) {
  EXPECT_EQ(ErrorKindOf(challenges_.Redeem("no-such-id", "proof", now_)),
            ErrorKind::kAuthenticationError);
}

TEST_F(ChallengesTest, ShortNonceIsValueError) {
  EXPECT_EQ(ErrorKindOf(challenges_.Issue("short", now_).status()), ErrorKind::kValueError);
}

TEST_F(ChallengesTest, OutstandingChallengesAreBounded) {
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(challenges_.Issue(client_nonce_, now_).ok());
  EXPECT_EQ(ErrorKindOf(challenges_.Issue(client_nonce_, now_).status()), ErrorKind::kLimitError);
  // Once they expire there is room again.
  EXPECT_TRUE(challenges_.Issue(client_nonce_, now_ + absl::Seconds(11)).ok());
}

}  // namespace
}  // namespace shoal::server
