#include "server/core/challenges.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
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

TEST_F(ChallengesTest, WrongProofLeavesTheChallengeForTheRightOne) {
  auto issued = challenges_.Issue(client_nonce_, now_);
  ASSERT_TRUE(issued.ok());
  absl::Status wrong = challenges_.Redeem(issued->id, std::string(32, 'x'), now_);
  EXPECT_EQ(ErrorKindOf(wrong), ErrorKind::kAuthenticationError);
  EXPECT_NE(wrong.message().find("wrong authkey"), absl::string_view::npos) << wrong;
  // A wrong guess uses nothing up: the holder of the key still gets in, once.
  const std::string proof = ClientProof(kKey, issued->server_nonce, client_nonce_);
  EXPECT_TRUE(challenges_.Redeem(issued->id, proof, now_).ok());
  absl::Status again = challenges_.Redeem(issued->id, proof, now_);
  EXPECT_NE(again.message().find("already used"), absl::string_view::npos) << again;
}

TEST_F(ChallengesTest, ExpiredChallengeIsRefused) {
  auto issued = challenges_.Issue(client_nonce_, now_);
  ASSERT_TRUE(issued.ok());
  absl::Status late = challenges_.Redeem(
      issued->id, ClientProof(kKey, issued->server_nonce, client_nonce_), now_ + absl::Seconds(11));
  EXPECT_EQ(ErrorKindOf(late), ErrorKind::kAuthenticationError);
  EXPECT_NE(late.message().find("expired"), absl::string_view::npos);
}

// The message of a refused answer, which must be an AuthenticationError.
std::string Refusal(const absl::Status& status) {
  EXPECT_EQ(ErrorKindOf(status), ErrorKind::kAuthenticationError) << status;
  return std::string(status.message());
}

TEST_F(ChallengesTest, UnknownChallengeIsMalformed) {
  EXPECT_NE(Refusal(challenges_.Redeem("no-such-id", "proof", now_)).find("malformed challenge"),
            std::string::npos);
  EXPECT_NE(Refusal(challenges_.Redeem("", "proof", now_)).find("malformed challenge"),
            std::string::npos);
  EXPECT_NE(Refusal(challenges_.Redeem("not base64 !", "proof", now_)).find("malformed challenge"),
            std::string::npos);
}

// The decoded bytes of an id, and an id made of bytes.
std::string Decoded(const std::string& id) {
  std::string bytes;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(id, &bytes));
  return bytes;
}
std::string Encoded(const std::string& bytes) { return absl::WebSafeBase64Escape(bytes); }

TEST_F(ChallengesTest, ForgedIdIsMalformed) {
  // An id of the right shape, with nonces of the attacker's choosing and a
  // MAC that is not the server's.
  auto issued = challenges_.Issue(client_nonce_, now_);
  ASSERT_TRUE(issued.ok());
  std::string bytes = Decoded(issued->id);
  for (size_t i = bytes.size() - 32; i < bytes.size(); ++i) bytes[i] = 'f';
  const std::string proof = ClientProof(kKey, issued->server_nonce, client_nonce_);
  EXPECT_NE(Refusal(challenges_.Redeem(Encoded(bytes), proof, now_)).find("malformed challenge"),
            std::string::npos);
  // Nor does another server process's challenge pass, though it is well made
  // under the same authkey.
  Challenges other(kKey, absl::Seconds(10), 4);
  auto theirs = other.Issue(client_nonce_, now_);
  ASSERT_TRUE(theirs.ok());
  EXPECT_NE(Refusal(challenges_.Redeem(theirs->id,
                                       ClientProof(kKey, theirs->server_nonce, client_nonce_),
                                       now_))
                .find("malformed challenge"),
            std::string::npos);
}

TEST_F(ChallengesTest, TamperedFieldsAreMalformed) {
  auto issued = challenges_.Issue(client_nonce_, now_);
  ASSERT_TRUE(issued.ok());
  const std::string bytes = Decoded(issued->id);
  // Byte 0 is the version, 1 to 8 the expiry, 9 to 40 the server nonce, then
  // the client nonce; every byte before the MAC is covered by it.
  for (size_t at : {size_t{0}, size_t{4}, size_t{8}, size_t{9}, size_t{40}, size_t{41},
                    bytes.size() - 33}) {
    std::string tampered = bytes;
    tampered[at] = static_cast<char>(tampered[at] ^ 0x01);
    EXPECT_NE(Refusal(challenges_.Redeem(Encoded(tampered),
                                         ClientProof(kKey, issued->server_nonce, client_nonce_),
                                         now_))
                  .find("malformed challenge"),
              std::string::npos)
        << "byte " << at;
  }
  // A client nonce of the attacker's choosing, with the proof made for it.
  const std::string chosen(32, 'n');
  const std::string swapped = bytes.substr(0, 41) + chosen + bytes.substr(bytes.size() - 32);
  EXPECT_NE(Refusal(challenges_.Redeem(Encoded(swapped),
                                       ClientProof(kKey, issued->server_nonce, chosen), now_))
                .find("malformed challenge"),
            std::string::npos);
  // Truncated ids.
  EXPECT_NE(Refusal(challenges_.Redeem(Encoded(bytes.substr(0, 60)), "proof", now_))
                .find("malformed challenge"),
            std::string::npos);
  // The untouched id still works.
  EXPECT_TRUE(challenges_
                  .Redeem(issued->id, ClientProof(kKey, issued->server_nonce, client_nonce_), now_)
                  .ok());
}

TEST_F(ChallengesTest, ErrorsAreDistinct) {
  auto issued = challenges_.Issue(client_nonce_, now_);
  ASSERT_TRUE(issued.ok());
  const std::string proof = ClientProof(kKey, issued->server_nonce, client_nonce_);
  const std::string malformed = Refusal(challenges_.Redeem("x", proof, now_));
  const std::string wrong = Refusal(challenges_.Redeem(issued->id, "bad", now_));
  const std::string expired =
      Refusal(challenges_.Redeem(issued->id, proof, now_ + absl::Seconds(11)));
  ASSERT_TRUE(challenges_.Redeem(issued->id, proof, now_).ok());
  const std::string used = Refusal(challenges_.Redeem(issued->id, proof, now_));
  EXPECT_NE(malformed.find("malformed challenge"), std::string::npos) << malformed;
  EXPECT_NE(wrong.find("wrong authkey"), std::string::npos) << wrong;
  EXPECT_NE(expired.find("expired"), std::string::npos) << expired;
  EXPECT_NE(used.find("already used"), std::string::npos) << used;
}

TEST_F(ChallengesTest, AChallengeIsGoodUpToItsExpiry) {
  auto issued = challenges_.Issue(client_nonce_, now_);
  ASSERT_TRUE(issued.ok());
  EXPECT_TRUE(challenges_
                  .Redeem(issued->id, ClientProof(kKey, issued->server_nonce, client_nonce_),
                          now_ + absl::Seconds(10))
                  .ok());
}

// An answer whose now was read before another thread forgot the challenge's
// use (housekeeping with a later now) is not a way to replay it.
TEST_F(ChallengesTest, AUseForgottenMeanwhileIsNotAWayToReplay) {
  auto issued = challenges_.Issue(client_nonce_, now_);
  ASSERT_TRUE(issued.ok());
  const std::string proof = ClientProof(kKey, issued->server_nonce, client_nonce_);
  ASSERT_TRUE(challenges_.Redeem(issued->id, proof, now_).ok());
  challenges_.Expire(now_ + absl::Seconds(10) + absl::Microseconds(1));
  const absl::Status replay = challenges_.Redeem(issued->id, proof, now_ + absl::Seconds(10));
  EXPECT_EQ(ErrorKindOf(replay), ErrorKind::kAuthenticationError) << replay;
  // Nor after the clock steps back.
  const absl::Status earlier = challenges_.Redeem(issued->id, proof, now_ + absl::Seconds(1));
  EXPECT_EQ(ErrorKindOf(earlier), ErrorKind::kAuthenticationError) << earlier;
}

TEST_F(ChallengesTest, ShortNonceIsValueError) {
  EXPECT_EQ(ErrorKindOf(challenges_.Issue("short", now_).status()), ErrorKind::kValueError);
  EXPECT_EQ(ErrorKindOf(challenges_.Issue(std::string(65, 'l'), now_).status()),
            ErrorKind::kValueError);
}

TEST_F(ChallengesTest, IssuingIsUnbounded) {
  // Challenges nobody answers cost the server nothing: far more than the
  // window's cap are issued, and the first still redeems.
  auto first = challenges_.Issue(client_nonce_, now_);
  ASSERT_TRUE(first.ok());
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(challenges_.Issue(RandomBytes(16), now_).ok());
  EXPECT_EQ(challenges_.remembered(), 0u);
  EXPECT_TRUE(challenges_
                  .Redeem(first->id, ClientProof(kKey, first->server_nonce, client_nonce_), now_)
                  .ok());
  EXPECT_EQ(challenges_.remembered(), 1u);
}

TEST_F(ChallengesTest, RedeemedWindowIsCappedAndForgetsExpired) {
  // Four logins fill the window (cap 4); a fifth within the ttl is refused
  // with LimitError, and its challenge stays good for later.
  for (int i = 0; i < 4; ++i) {
    auto issued = challenges_.Issue(client_nonce_, now_ + absl::Seconds(i));
    ASSERT_TRUE(issued.ok());
    ASSERT_TRUE(challenges_
                    .Redeem(issued->id, ClientProof(kKey, issued->server_nonce, client_nonce_),
                            now_ + absl::Seconds(i))
                    .ok());
  }
  EXPECT_EQ(challenges_.remembered(), 4u);
  auto fifth = challenges_.Issue(client_nonce_, now_ + absl::Seconds(4));
  ASSERT_TRUE(fifth.ok());
  const std::string proof = ClientProof(kKey, fifth->server_nonce, client_nonce_);
  absl::Status full = challenges_.Redeem(fifth->id, proof, now_ + absl::Seconds(5));
  EXPECT_EQ(ErrorKindOf(full), ErrorKind::kLimitError) << full;
  // Once the first login's challenge has expired (issued at now_, ttl 10 s),
  // it is forgotten and there is room again.
  EXPECT_TRUE(challenges_.Redeem(fifth->id, proof, now_ + absl::Seconds(10) + absl::Milliseconds(1))
                  .ok());
  EXPECT_EQ(challenges_.remembered(), 4u);
  challenges_.Expire(now_ + absl::Seconds(30));
  EXPECT_EQ(challenges_.remembered(), 0u);
}

TEST_F(ChallengesTest, ReplayAfterExpiryIsStillRefused) {
  // Once a redeemed challenge is forgotten, its own expiry refuses it.
  auto issued = challenges_.Issue(client_nonce_, now_);
  ASSERT_TRUE(issued.ok());
  const std::string proof = ClientProof(kKey, issued->server_nonce, client_nonce_);
  ASSERT_TRUE(challenges_.Redeem(issued->id, proof, now_).ok());
  challenges_.Expire(now_ + absl::Seconds(11));
  EXPECT_EQ(challenges_.remembered(), 0u);
  const absl::Status late = challenges_.Redeem(issued->id, proof, now_ + absl::Seconds(11));
  EXPECT_NE(Refusal(late).find("expired"), std::string::npos);
}

}  // namespace
}  // namespace shoal::server
