#include "server/objects/value_object.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/objects/typecode.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

absl::Status UnsupportedAdd(const Value& value, const Value& delta) {
  return error::TypeError(absl::StrCat("unsupported operand type(s) for +=: '", value.type_name(),
                                       "' and '", delta.type_name(), "'"));
}

}  // namespace

absl::StatusOr<ValueObject::Rule> ValueObject::RuleFor(const std::string& typecode) {
  if (typecode.empty()) return Rule{Accepts::kAny};
  if (std::optional<IntType> ints = IntTypeOf(typecode)) {
    return Rule{Accepts::kInt, ints->min, ints->max};
  }
  if (typecode.size() == 1) {
    switch (typecode[0]) {
      case 'f':
      case 'd':
        return Rule{Accepts::kFloat};
      case '?':
        return Rule{Accepts::kBool};
      case 'u':
        return Rule{Accepts::kStr};
      case 'c':
        return Rule{Accepts::kChar};
      default:
        break;
    }
  }
  return error::ValueError(
      absl::StrCat("bad typecode '", typecode,
                   "' (must be b, B, h, H, i, I, l, L, q, Q, f, d, ?, u or c, or empty for any "
                   "type)"));
}

absl::StatusOr<std::unique_ptr<ValueObject>> ValueObject::Create(MemoryBudget* budget,
                                                                 std::string typecode,
                                                                 Value initial) {
  absl::StatusOr<Rule> rule = RuleFor(typecode);
  if (!rule.ok()) return rule.status();
  std::unique_ptr<ValueObject> object(new ValueObject(budget, std::move(typecode), *rule, Value()));
  absl::StatusOr<Value> converted = object->Convert(std::move(initial));
  if (!converted.ok()) return converted.status();
  MutexLock lock(&object->mu_);
  // The account holds nothing yet (not even the placeholder None's share).
  absl::Status reserved = object->account_.Reserve(ApproxBytes(*converted));
  if (!reserved.ok()) return reserved;
  if (converted->contains_ref()) object->MarkMayHoldRefs();
  object->value_ = *std::move(converted);
  return object;
}

ValueObject::ValueObject(MemoryBudget* budget, std::string typecode, Rule rule, Value value)
    : Object(Kind::kValue),
      typecode_(std::move(typecode)),
      rule_(rule),
      value_(std::move(value)),
      account_(budget) {}

absl::StatusOr<Value> ValueObject::Convert(Value value) const {
  auto wrong_type = [&](const char* wanted) { return WrongTypeFor(typecode_, wanted, value); };
  switch (rule_.accepts) {
    case Accepts::kAny:
      return value;
    case Accepts::kInt: {
      absl::StatusOr<int64_t> i = IntFor(typecode_, rule_.min, rule_.max, ShowRange::kNo, value);
      if (!i.ok()) return i.status();
      return Value(*i);
    }
    case Accepts::kFloat:
      if (!value.is_number()) return wrong_type("a number");
      return Value(value.as_float());
    case Accepts::kBool:
      if (!value.is_bool()) return wrong_type("a bool");
      return value;
    case Accepts::kStr:
      if (!value.is_str()) return wrong_type("a str");
      return value;
    case Accepts::kChar:
      if (!value.is_bytes()) return wrong_type("bytes of length 1");
      if (value.as_bytes().size() != 1) {
        // ctypes' c_char says TypeError here too: the type is bytes of one.
        return error::TypeError(absl::StrCat("typecode '", typecode_,
                                             "' needs bytes of length 1, not of length ",
                                             value.as_bytes().size()));
      }
      return value;
  }
  return value;
}

absl::Status ValueObject::Store(Value value) {
  absl::Status reserved = account_.Adjust(ApproxBytes(value) - ApproxBytes(value_));
  if (!reserved.ok()) return reserved;
  if (value.contains_ref()) MarkMayHoldRefs();
  value_ = std::move(value);
  return absl::OkStatus();
}

Value ValueObject::Get() const {
  MutexLock lock(&mu_);
  return value_;
}

absl::Status ValueObject::Set(Value value) {
  absl::StatusOr<Value> converted = Convert(std::move(value));
  if (!converted.ok()) return converted.status();
  MutexLock lock(&mu_);
  return Store(*std::move(converted));
}

absl::StatusOr<Value> ValueObject::Add(const Value& delta) {
  MutexLock lock(&mu_);
  if (!delta.is_number() || !value_.is_number()) return UnsupportedAdd(value_, delta);
  Value sum;
  if (value_.is_float() || delta.is_float()) {
    // For an integer typecode, Convert refuses the float sum (TypeError)
    // rather than truncating it as a C int would.
    sum = Value(value_.as_float() + delta.as_float());
  } else {
    int64_t total = 0;
    if (__builtin_add_overflow(value_.as_int(), delta.as_int(), &total)) {
      return error::OverflowError("integer overflow");
    }
    sum = Value(total);
  }
  absl::StatusOr<Value> converted = Convert(std::move(sum));
  if (!converted.ok()) return converted.status();
  absl::Status stored = Store(*std::move(converted));
  if (!stored.ok()) return stored;
  return value_;
}

absl::StatusOr<std::pair<bool, Value>> ValueObject::CompareAndSwap(const Value& expected,
                                                                   Value desired) {
  absl::StatusOr<Value> converted = Convert(std::move(desired));
  if (!converted.ok()) return converted.status();
  MutexLock lock(&mu_);
  if (!(value_ == expected)) return std::make_pair(false, value_);
  absl::Status stored = Store(*std::move(converted));
  if (!stored.ok()) return stored;
  return std::make_pair(true, value_);
}

std::string ValueObject::Repr() const {
  const std::string code = typecode_.empty() ? "None" : absl::StrCat("'", typecode_, "'");
  MutexLock lock(&mu_);
  return absl::StrCat("Value(", code, ", ", value_.repr(), ")");
}

int64_t ValueObject::Size() const { return 1; }

void ValueObject::ForEachRef(const std::function<void(const ObjectRef&)>& fn) const {
  MutexLock lock(&mu_);
  value_.ForEachRef(fn);
}

}  // namespace shoal::server
