#include "shared/error_kind.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace shoal {
namespace {

// Every kind but kNone. Only the kinds: what each is called and which code it
// travels with is error_kind.cc's to say, and the tests check that those
// agree with one another rather than copying them.
constexpr ErrorKind kEveryKind[] = {
    ErrorKind::kKeyError,           ErrorKind::kIndexError,      ErrorKind::kValueError,
    ErrorKind::kTypeError,          ErrorKind::kAttributeError,  ErrorKind::kRuntimeError,
    ErrorKind::kEmpty,              ErrorKind::kFull,            ErrorKind::kBrokenBarrierError,
    ErrorKind::kTimeoutError,       ErrorKind::kAuthenticationError,
    ErrorKind::kConnectionError,    ErrorKind::kLimitError,      ErrorKind::kEOFError,
    ErrorKind::kOSError,            ErrorKind::kOverflowError,   ErrorKind::kShutDown,
    ErrorKind::kWorkerLost,         ErrorKind::kSessionExpired,
    ErrorKind::kError,
};

TEST(ErrorKindTest, EveryKindHasItsOwnNameAndComesBackFromIt) {
  std::set<std::string> names;
  for (ErrorKind kind : kEveryKind) {
    const std::string name(ErrorKindName(kind));
    SCOPED_TRACE(name);
    EXPECT_FALSE(name.empty());
    EXPECT_TRUE(names.insert(name).second) << "two kinds are named " << name;
    EXPECT_EQ(ErrorKindFromName(name), kind);
    EXPECT_NE(ErrorKindCode(kind), absl::StatusCode::kOk);
  }
}

TEST(ErrorKindTest, KindsCarryPythonNames) {
  // What clients and grpcurl users see, for a few kinds.
  EXPECT_EQ(ErrorKindName(ErrorKind::kKeyError), "KeyError");
  EXPECT_EQ(ErrorKindName(ErrorKind::kBrokenBarrierError), "BrokenBarrierError");
  EXPECT_EQ(ErrorKindCode(ErrorKind::kKeyError), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorKindCode(ErrorKind::kTimeoutError), absl::StatusCode::kDeadlineExceeded);
}

TEST(ErrorKindTest, NoneAndUnknownNames) {
  EXPECT_EQ(ErrorKindName(ErrorKind::kNone), "");
  EXPECT_EQ(ErrorKindCode(ErrorKind::kNone), absl::StatusCode::kOk);
  EXPECT_EQ(ErrorKindFromName(""), ErrorKind::kNone);
  EXPECT_EQ(ErrorKindFromName("MemoryError"), ErrorKind::kError);
  EXPECT_EQ(ErrorKindFromName("keyerror"), ErrorKind::kError);
  EXPECT_EQ(ErrorKindName(ErrorKind::kError), "Error");
}

TEST(ErrorKindTest, MakeErrorCarriesKindCodeAndMessage) {
  for (ErrorKind kind : kEveryKind) {
    SCOPED_TRACE(std::string(ErrorKindName(kind)));
    absl::Status status = MakeError(kind, "boom");
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(status.code(), ErrorKindCode(kind));
    EXPECT_EQ(status.message(), "boom");
    EXPECT_EQ(ErrorKindOf(status), kind);
    // The kind survives copies, as statuses are passed around by value.
    absl::Status copy = status;
    EXPECT_EQ(ErrorKindOf(copy), kind);
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
