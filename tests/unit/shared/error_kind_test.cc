#include "shared/error_kind.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace shoal {
namespace {

struct KindCase {
  ErrorKind kind;
  const char* name;
  absl::StatusCode code;
};

const std::vector<KindCase>& AllKinds() {
  static const auto* kinds = new std::vector<KindCase>{
      {ErrorKind::kKeyError, "KeyError", absl::StatusCode::kNotFound},
      {ErrorKind::kIndexError, "IndexError", absl::StatusCode::kOutOfRange},
      {ErrorKind::kValueError, "ValueError", absl::StatusCode::kInvalidArgument},
      {ErrorKind::kTypeError, "TypeError", absl::StatusCode::kInvalidArgument},
      {ErrorKind::kAttributeError, "AttributeError", absl::StatusCode::kNotFound},
      {ErrorKind::kRuntimeError, "RuntimeError", absl::StatusCode::kFailedPrecondition},
      {ErrorKind::kEmpty, "Empty", absl::StatusCode::kFailedPrecondition},
      {ErrorKind::kFull, "Full", absl::StatusCode::kFailedPrecondition},
      {ErrorKind::kBrokenBarrierError, "BrokenBarrierError", absl::StatusCode::kAborted},
      {ErrorKind::kTimeoutError, "TimeoutError", absl::StatusCode::kDeadlineExceeded},
      {ErrorKind::kAuthenticationError, "AuthenticationError",
       absl::StatusCode::kUnauthenticated},
      {ErrorKind::kConnectionError, "ConnectionError", absl::StatusCode::kUnavailable},
      {ErrorKind::kLimitError, "LimitError", absl::StatusCode::kResourceExhausted},
      {ErrorKind::kError, "Error", absl::StatusCode::kUnknown},
  };
  return *kinds;
}

TEST(ErrorKindTest, NamesCodesAndRoundTrips) {
  for (const KindCase& c : AllKinds()) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(ErrorKindName(c.kind), c.name);
    EXPECT_EQ(ErrorKindFromName(c.name), c.kind);
    EXPECT_EQ(ErrorKindCode(c.kind), c.code);
  }
}

TEST(ErrorKindTest, NoneAndUnknownNames) {
  EXPECT_EQ(ErrorKindName(ErrorKind::kNone), "");
  EXPECT_EQ(ErrorKindCode(ErrorKind::kNone), absl::StatusCode::kOk);
  EXPECT_EQ(ErrorKindFromName(""), ErrorKind::kNone);
  EXPECT_EQ(ErrorKindFromName("OSError"), ErrorKind::kError);
  EXPECT_EQ(ErrorKindFromName("keyerror"), ErrorKind::kError);
}

TEST(ErrorKindTest, MakeErrorCarriesKindCodeAndMessage) {
  for (const KindCase& c : AllKinds()) {
    SCOPED_TRACE(c.name);
    absl::Status status = MakeError(c.kind, "boom");
    EXPECT_EQ(status.code(), c.code);
    EXPECT_EQ(status.message(), "boom");
    EXPECT_EQ(ErrorKindOf(status), c.kind);
    // The kind survives copies, as statuses are passed around by value.
    absl::Status copy = status;
    EXPECT_EQ(ErrorKindOf(copy), c.kind);
  }
}

TEST(ErrorKindTest, KindsSharingACodeStayDistinct) {
  absl::Status type_error = MakeError(ErrorKind::kTypeError, "t");
  absl::Status value_error = MakeError(ErrorKind::kValueError, "v");
  EXPECT_EQ(type_error.code(), value_error.code());
  EXPECT_EQ(ErrorKindOf(type_error), ErrorKind::kTypeError);
  EXPECT_EQ(ErrorKindOf(value_error), ErrorKind::kValueError);
  EXPECT_EQ(ErrorKindOf(MakeError(ErrorKind::kEmpty, "")), ErrorKind::kEmpty);
  EXPECT_EQ(ErrorKindOf(MakeError(ErrorKind::kFull, "")), ErrorKind::kFull);
}

TEST(ErrorKindTest, MakeErrorOfNoneIsOk) {
  EXPECT_TRUE(MakeError(ErrorKind::kNone, "ignored").ok());
}

TEST(ErrorKindTest, ForeignStatusesAreInferredFromTheirCode) {
  EXPECT_EQ(ErrorKindOf(absl::OkStatus()), ErrorKind::kNone);
  EXPECT_EQ(ErrorKindOf(absl::UnauthenticatedError("x")), ErrorKind::kAuthenticationError);
  EXPECT_EQ(ErrorKindOf(absl::UnavailableError("x")), ErrorKind::kConnectionError);
  EXPECT_EQ(ErrorKindOf(absl::ResourceExhaustedError("x")), ErrorKind::kLimitError);
  EXPECT_EQ(ErrorKindOf(absl::DeadlineExceededError("x")), ErrorKind::kTimeoutError);
  // Codes that several kinds share name no kind without the payload.
  EXPECT_EQ(ErrorKindOf(absl::NotFoundError("x")), ErrorKind::kError);
  EXPECT_EQ(ErrorKindOf(absl::InvalidArgumentError("x")), ErrorKind::kError);
  EXPECT_EQ(ErrorKindOf(absl::InternalError("x")), ErrorKind::kError);
  EXPECT_EQ(ErrorKindOf(absl::CancelledError("x")), ErrorKind::kError);
}

TEST(ErrorKindTest, Shorthands) {
  EXPECT_EQ(ErrorKindOf(error::KeyError("'k'")), ErrorKind::kKeyError);
  EXPECT_EQ(error::KeyError("'k'").message(), "'k'");
  EXPECT_EQ(ErrorKindOf(error::IndexError("i")), ErrorKind::kIndexError);
  EXPECT_EQ(ErrorKindOf(error::ValueError("v")), ErrorKind::kValueError);
  EXPECT_EQ(ErrorKindOf(error::TypeError("t")), ErrorKind::kTypeError);
  EXPECT_EQ(ErrorKindOf(error::AttributeError("a")), ErrorKind::kAttributeError);
  EXPECT_EQ(ErrorKindOf(error::RuntimeError("r")), ErrorKind::kRuntimeError);
  EXPECT_EQ(ErrorKindOf(error::LimitError("l")), ErrorKind::kLimitError);
  EXPECT_EQ(error::LimitError("l").code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace shoal
