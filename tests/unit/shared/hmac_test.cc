#include "shared/hmac.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace shoal {
namespace {

std::string Hex(const std::string& bytes) { return absl::BytesToHexString(bytes); }

TEST(HmacTest, Rfc4231TestCase1) {
  EXPECT_EQ(Hex(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(HmacTest, Rfc4231TestCase2) {
  std::string mac = HmacSha256("Jefe", "what do ya want for nothing?");
  EXPECT_EQ(mac.size(), 32u);
  EXPECT_EQ(Hex(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HmacTest, EmptyKeyAndData) {
  EXPECT_EQ(Hex(HmacSha256("", "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(HmacTest, ProofsFollowTheHandshakeLayout) {
  // Expected values from Python: hmac.new(b"key", b"server" + b"cnonce" +
  // b"snonce", "sha256") and the client's mirror image.
  EXPECT_EQ(Hex(ServerProof("key", "cnonce", "snonce")),
            "31f0a51d2304dec9309fbd8543baff38f08e4acd24d4993a9756c7532f2512b5");
  EXPECT_EQ(Hex(ClientProof("key", "snonce", "cnonce")),
            "49a6accb5c0ed09fa91c5cae1361b0d2d5362b8570e80f64e75f188deff2e5d3");
  EXPECT_EQ(ServerProof("key", "cnonce", "snonce"), HmacSha256("key", "servercnoncesnonce"));
  EXPECT_EQ(ClientProof("key", "snonce", "cnonce"), HmacSha256("key", "clientsnoncecnonce"));
}

TEST(HmacTest, ProofsDifferByLabelNonceOrderAndKey) {
  const std::string c = "client-nonce", s = "server-nonce";
  // Same nonces in the same order, different label: a server proof cannot
  // be replayed as a client proof.
  EXPECT_NE(ServerProof("k", c, s), ClientProof("k", c, s));
  // Swapped nonces change the proof.
  EXPECT_NE(ServerProof("k", c, s), ServerProof("k", s, c));
  EXPECT_NE(ClientProof("k", s, c), ClientProof("k", c, s));
  EXPECT_NE(ServerProof("k", c, s), ServerProof("other", c, s));
  EXPECT_EQ(ServerProof("k", c, s), ServerProof("k", c, s));
}

TEST(RandomBytesTest, LengthAndVariety) {
  EXPECT_TRUE(RandomBytes(0).empty());
  std::string a = RandomBytes(32), b = RandomBytes(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(b.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_EQ(RandomBytes(1000).size(), 1000u);
}

TEST(ConstantTimeEqualsTest, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "Secret"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("abcd", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_TRUE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

}  // namespace
}  // namespace shoal
