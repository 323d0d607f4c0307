// The login handshake on hostile input, both halves. The server's half is
// its Challenges (server/core/challenges.h: Issue and Redeem, over time) and
// the bearer token that the session it opens is then called with
// (server/transport/authenticate.h, server/core/sessions.h); the client's
// half is the check of the server's proof and the answer it makes
// (client/src/handshake.h). The input is a sequence of steps: challenges
// for fuzzed nonces, answers right and wrong, fuzzed challenge ids, proofs,
// replies and authorization headers, and time passing. What the protocol
// promises is checked at each step: a right answer opens a session once,
// before the challenge expires; nothing else does.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/src/handshake.h"
#include "fuzz/proto_mutator.h"
#include "server/core/challenges.h"
#include "server/core/sessions.h"
#include "server/transport/authenticate.h"
#include "shared/error_kind.h"
#include "shared/hmac.h"
#include "shoal/v1/auth.pb.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "handshake_fuzz: %s\n", what);
  std::abort();
}

constexpr absl::Duration kTtl = absl::Seconds(10);

struct Issued {
  std::string client_nonce;
  shoal::v1::ChallengeReply reply;
  absl::Time deadline;
  // Redeemed rightly already: no answer can open a session now. A wrong
  // answer does not use a challenge up.
  bool used = false;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  shoal::fuzz::QuietProtobuf();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  const std::string key = input.ConsumeBool() ? "the fuzzing authkey" : std::string();
  // More redeemed challenges remembered than an input can redeem: the cap's
  // LimitError is not what this target checks.
  shoal::server::Challenges challenges(key, kTtl, /*max_recent=*/1024);
  shoal::server::Sessions sessions(absl::Seconds(30), absl::Seconds(2));
  absl::Time now = absl::FromUnixSeconds(1700000000);
  std::vector<Issued> issued;
  std::vector<std::string> tokens;

  for (int step = 0; step < 64 && input.remaining_bytes() > 0; ++step) {
    switch (input.ConsumeIntegralInRange(0, 7)) {
      case 0: {  // Auth/Challenge, and the client's check of the reply.
        const std::string nonce = input.ConsumeRandomLengthString(80);
        absl::StatusOr<shoal::server::Challenges::Issued> out = challenges.Issue(nonce, now);
        const bool nonce_ok = nonce.size() >= 16 && nonce.size() <= 64;
        if (!nonce_ok) {
          if (out.ok()) Fail("a challenge was issued for a nonce of the wrong size");
          break;
        }
        if (!out.ok()) {
          if (shoal::ErrorKindOf(out.status()) != shoal::ErrorKind::kLimitError) {
            Fail("a challenge for a good nonce was refused for another reason than the limit");
          }
          break;
        }
        Issued entry;
        entry.client_nonce = nonce;
        entry.reply.set_challenge_id(out->id);
        entry.reply.set_server_nonce(out->server_nonce);
        entry.reply.set_server_proof(out->server_proof);
        entry.deadline = now + kTtl;
        if (!shoal::detail::ServerProvesKey(key, nonce, entry.reply)) {
          Fail("the client refuses the proof of a server that holds the key");
        }
        if (shoal::detail::ServerProvesKey(key + "x", nonce, entry.reply)) {
          Fail("the client accepts the proof of a server with another key");
        }
        shoal::v1::ChallengeReply forged = entry.reply;
        std::string proof = forged.server_proof();
        proof[input.ConsumeIntegralInRange<size_t>(0, proof.size() - 1)] ^=
            static_cast<char>(input.ConsumeIntegralInRange(1, 255));
        forged.set_server_proof(proof);
        if (shoal::detail::ServerProvesKey(key, nonce, forged)) {
          Fail("the client accepts a forged server proof");
        }
        issued.push_back(std::move(entry));
        break;
      }
      case 1: {  // Auth/Answer with the client's right answer.
        if (issued.empty()) break;
        Issued& entry = issued[input.ConsumeIntegralInRange<size_t>(0, issued.size() - 1)];
        const shoal::v1::AnswerRequest answer = shoal::detail::AnswerFor(
            key, entry.client_nonce, entry.reply, input.ConsumeRandomLengthString(16));
        const absl::Status redeemed =
            challenges.Redeem(answer.challenge_id(), answer.client_proof(), now);
        // Good up to its expiry included.
        const bool should = !entry.used && now <= entry.deadline;
        entry.used = entry.used || redeemed.ok();
        if (redeemed.ok() != should) {
          Fail(should ? "a right, fresh answer was refused"
                      : "a used or expired challenge opened a session");
        }
        if (!redeemed.ok()) break;
        auto [id, token] = sessions.Open(answer.client_name(), "fuzz", now);
        absl::StatusOr<std::string> bearer =
            shoal::server::TokenFromAuthorization(absl::StrCat("Bearer ", token));
        if (!bearer.ok() || *bearer != token) Fail("a well-formed header lost its token");
        absl::StatusOr<shoal::server::SessionId> session = sessions.Authenticate(*bearer, now);
        if (!session.ok() || *session != id) Fail("a new session's token was refused");
        tokens.push_back(token);
        break;
      }
      case 2: {  // Auth/Answer with a wrong proof for a known challenge.
        if (issued.empty()) break;
        Issued& entry = issued[input.ConsumeIntegralInRange<size_t>(0, issued.size() - 1)];
        std::string proof = shoal::ClientProof(key, entry.reply.server_nonce(), entry.client_nonce);
        const std::string fuzzed = input.ConsumeRandomLengthString(40);
        if (fuzzed == proof) break;
        if (challenges.Redeem(entry.reply.challenge_id(), fuzzed, now).ok()) {
          Fail("a wrong proof opened a session");
        }
        break;
      }
      case 3: {  // Auth/Answer for a challenge id the server never issued.
        const std::string id = input.ConsumeRandomLengthString(40);
        const std::string proof = input.ConsumeRandomLengthString(40);
        bool known = false;
        for (const Issued& entry : issued) known = known || entry.reply.challenge_id() == id;
        if (known) break;
        if (challenges.Redeem(id, proof, now).ok()) Fail("an unknown challenge opened a session");
        break;
      }
      case 4:
        now += absl::Milliseconds(input.ConsumeIntegralInRange(0, 20000));
        break;
      case 5:
        challenges.Expire(now);
        break;
      case 6: {  // The client given a reply from a hostile server.
        shoal::v1::ChallengeReply reply;
        const std::string bytes = input.ConsumeRandomLengthString(200);
        if (!reply.ParseFromString(bytes)) break;
        const std::string nonce = input.ConsumeRandomLengthString(64);
        const bool proves = shoal::detail::ServerProvesKey(key, nonce, reply);
        if (proves != (reply.server_proof() == shoal::ServerProof(key, nonce, reply.server_nonce()))) {
          Fail("the client's check disagrees with the proof's definition");
        }
        (void)shoal::detail::AnswerFor(key, nonce, reply, "fuzz");
        break;
      }
      case 7: {  // A call's authorization header.
        const std::string header = input.ConsumeRandomLengthString(80);
        absl::StatusOr<std::string> token = shoal::server::TokenFromAuthorization(header);
        if (!token.ok()) break;
        bool known = false;
        for (const std::string& t : tokens) known = known || t == *token;
        if (!known && sessions.Authenticate(*token, now).ok()) Fail("an unknown token was accepted");
        break;
      }
    }
  }
  return 0;
}
