#include "shoal/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "shared/utf8.h"
#include "shoal/errors.h"

namespace shoal {
namespace {

// Python hashes numbers as their exact value modulo the Mersenne prime
// 2**61 - 1, so that equal numbers of different types (1, 1.0, True) hash
// alike. Reproducing that exactly keeps our hashes identical to CPython's.
constexpr int kHashBits = 61;
constexpr uint64_t kHashModulus = (uint64_t{1} << kHashBits) - 1;
// CPython's hash of +inf; -inf hashes as its negation.
constexpr int64_t kHashInf = 314159;

// CPython reserves -1 as an error marker, so a hash of -1 becomes -2.
int64_t FinishHash(int64_t h) { return h == -1 ? -2 : h; }

int64_t HashInt(int64_t i) {
  // Work on the magnitude in unsigned arithmetic: -INT64_MIN overflows int64.
  uint64_t magnitude = i < 0 ? uint64_t{0} - static_cast<uint64_t>(i) : static_cast<uint64_t>(i);
  int64_t h = static_cast<int64_t>(magnitude % kHashModulus);
  return FinishHash(i < 0 ? -h : h);
}

int64_t HashFloat(double d) {
  if (std::isnan(d)) return 0;
  if (std::isinf(d)) return d > 0 ? kHashInf : -kHashInf;
  // |d| == mantissa * 2**exponent with an integral mantissa below 2**53, which
  // is already reduced modulo 2**61 - 1. Since 2**61 is 1 modulo that prime,
  // multiplying by 2**k there is a left rotation of the 61-bit residue by
  // k mod 61 (a negative k folds into the same range).
  int binary_exponent = 0;
  double fraction = std::frexp(std::fabs(d), &binary_exponent);
  uint64_t mantissa = static_cast<uint64_t>(std::ldexp(fraction, 53));
  int exponent = binary_exponent - 53;
  int rotate = ((exponent % kHashBits) + kHashBits) % kHashBits;
  uint64_t residue = rotate == 0 ? mantissa
                                 : ((mantissa << rotate) & kHashModulus) |
                                       (mantissa >> (kHashBits - rotate));
  int64_t h = static_cast<int64_t>(residue);
  return FinishHash(d < 0 ? -h : h);
}

// Exact three-way comparison of an int and a double, without the rounding a
// conversion of the int to double would bring (2**53 + 1 vs 2**53). NaN is
// neither less nor greater than anything.
int CompareIntFloat(int64_t i, double d) {
  if (std::isnan(d)) return 0;
  constexpr double kTwoTo63 = 9223372036854775808.0;
  if (d >= kTwoTo63) return -1;
  if (d < -kTwoTo63) return 1;
  // Here d lies in [-2**63, 2**63), so its integral part converts exactly.
  double whole = std::trunc(d);
  int64_t whole_int = static_cast<int64_t>(whole);
  if (i < whole_int) return -1;
  if (i > whole_int) return 1;
  double rest = d - whole;  // exact: the fractional part of a double
  if (rest > 0) return -1;
  if (rest < 0) return 1;
  return 0;
}

int CompareFloats(double a, double b) {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}

int CompareBytes(const std::string& a, const std::string& b) {
  // std::char_traits<char> compares as unsigned char, which for UTF-8 is code
  // point order.
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

// Python's repr() of a float: the shortest digits that round-trip, written
// positionally when the decimal exponent is in [-4, 16) and in scientific
// notation otherwise, with ".0" added to integral positional values.
void AppendFloatRepr(double d, std::string* out) {
  if (std::isnan(d)) {
    out->append("nan");
    return;
  }
  if (std::isinf(d)) {
    out->append(d > 0 ? "inf" : "-inf");
    return;
  }
  char buf[64];
  // Shortest round-trip digits in the form "-d.ddde+XX".
  std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(r.ptr - buf));
  bool negative = !sci.empty() && sci.front() == '-';
  if (negative) sci.remove_prefix(1);
  size_t e_pos = sci.find('e');
  std::string_view mantissa = sci.substr(0, e_pos);
  int exponent = 0;
  std::string_view exp_text = sci.substr(e_pos + 1);
  if (!exp_text.empty() && exp_text.front() == '+') exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  if (negative) out->push_back('-');
  // decimal_point: how many digits precede the decimal point, as Python's
  // float formatting counts it.
  int decimal_point = exponent + 1;
  if (decimal_point > 16 || decimal_point < -3) {
    out->push_back(digits[0]);
    if (digits.size() > 1) {
      out->push_back('.');
      out->append(digits, 1, std::string::npos);
    }
    char exp_buf[16];
    std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exponent < 0 ? '-' : '+',
                  exponent < 0 ? -exponent : exponent);
    out->append(exp_buf);
    return;
  }
  int n = static_cast<int>(digits.size());
  if (decimal_point <= 0) {
    out->append("0.");
    out->append(static_cast<size_t>(-decimal_point), '0');
    out->append(digits);
  } else if (decimal_point < n) {
    out->append(digits, 0, static_cast<size_t>(decimal_point));
    out->push_back('.');
    out->append(digits, static_cast<size_t>(decimal_point), std::string::npos);
  } else {
    out->append(digits);
    out->append(static_cast<size_t>(decimal_point - n), '0');
    out->append(".0");
  }
}

void AppendHexEscape(unsigned char c, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->append("\\x");
  out->push_back(kHex[c >> 4]);
  out->push_back(kHex[c & 0xf]);
}

// Python quotes with ' unless the text holds a ' and no ", so that the quote
// rarely needs escaping.
char PickQuote(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  return has_single && !has_double ? '"' : '\'';
}

// Appends an ASCII byte as it appears inside Python's quotes. Returns false
// for a byte that is not ASCII, which the caller handles.
bool AppendAsciiEscaped(unsigned char c, char quote, std::string* out) {
  if (c >= 0x80) return false;
  switch (c) {
    case '\\':
      out->append("\\\\");
      return true;
    case '\n':
      out->append("\\n");
      return true;
    case '\r':
      out->append("\\r");
      return true;
    case '\t':
      out->append("\\t");
      return true;
    default:
      break;
  }
  if (c == static_cast<unsigned char>(quote)) {
    out->push_back('\\');
    out->push_back(static_cast<char>(c));
  } else if (c < 0x20 || c == 0x7f) {
    AppendHexEscape(c, out);
  } else {
    out->push_back(static_cast<char>(c));
  }
  return true;
}

void AppendStrRepr(const std::string& s, std::string* out) {
  char quote = PickQuote(s);
  out->push_back(quote);
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (AppendAsciiEscaped(c, quote, out)) {
      ++i;
      continue;
    }
    uint32_t cp = 0;
    size_t length = DecodeUtf8(s, i, &cp);
    if (length == 0) {
      // Not UTF-8, which a Python str cannot hold; show the byte rather than
      // emit invalid UTF-8.
      AppendHexEscape(c, out);
      ++i;
    } else if (cp < 0xa0) {
      // C1 control characters, which Python escapes like C0 ones.
      AppendHexEscape(static_cast<unsigned char>(cp), out);
      i += length;
    } else {
      out->append(s, i, length);
      i += length;
    }
  }
  out->push_back(quote);
}

void AppendBytesRepr(const std::string& s, std::string* out) {
  char quote = PickQuote(s);
  out->push_back('b');
  out->push_back(quote);
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (!AppendAsciiEscaped(c, quote, out)) AppendHexEscape(c, out);
  }
  out->push_back(quote);
}

[[noreturn]] void ThrowWrongType(const char* expected, const Value& got) {
  throw TypeError(std::string("expected ") + expected + ", got " + got.type_name());
}

}  // namespace

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kList:
      return "list";
    case Kind::kDict:
      return "dict";
    case Kind::kNamespace:
      return "Namespace";
    case Kind::kValue:
      return "Value";
    case Kind::kLock:
      return "Lock";
    case Kind::kRLock:
      return "RLock";
    case Kind::kSemaphore:
      return "Semaphore";
    case Kind::kBoundedSemaphore:
      return "BoundedSemaphore";
    case Kind::kCondition:
      return "Condition";
    case Kind::kEvent:
      return "Event";
    case Kind::kBarrier:
      return "Barrier";
    case Kind::kQueue:
      return "Queue";
    case Kind::kJoinableQueue:
      return "JoinableQueue";
    case Kind::kArray:
      return "Array";
    case Kind::kConnection:
      return "Connection";
    case Kind::kPipe:
      return "Pipe";
    case Kind::kPool:
      return "Pool";
    case Kind::kUnspecified:
      break;
  }
  return "unknown";
}

Value& Value::operator=(const Value& other) {
  // Copy first: other may be an element of the list or dict this value is
  // about to release.
  Storage copy(other.v_);
  v_ = std::move(copy);
  return *this;
}

Value& Value::operator=(Value&& other) noexcept {
  // Only a list or a dict can hold other; any other value is replaced in one
  // move (but not by itself: a string moved onto itself would be emptied).
  if (this == &other) return *this;
  if (!is_list() && !is_dict()) {
    v_ = std::move(other.v_);
    return *this;
  }
  Storage taken(std::move(other.v_));
  v_ = std::move(taken);
  return *this;
}

Value::Value(List items) : v_(std::in_place_index<6>, std::make_shared<List>(std::move(items))) {}

Value::Value(Dict dict) : v_(std::in_place_index<7>, std::make_shared<Dict>(std::move(dict))) {}

Value Value::list(std::initializer_list<Value> items) { return Value(List(items)); }

Value Value::dict(std::initializer_list<std::pair<Value, Value>> entries) {
  Dict dict;
  for (const auto& [key, value] : entries) dict.set(key, value);
  return Value(std::move(dict));
}

const char* Value::type_name() const {
  switch (type()) {
    case Type::kNone:
      return "NoneType";
    case Type::kBool:
      return "bool";
    case Type::kInt:
      return "int";
    case Type::kFloat:
      return "float";
    case Type::kStr:
      return "str";
    case Type::kBytes:
      return "bytes";
    case Type::kList:
      return "list";
    case Type::kDict:
      return "dict";
    case Type::kRef:
      return KindName(std::get<8>(v_).kind);
  }
  return "unknown";
}

bool Value::as_bool() const {
  if (!is_bool()) ThrowWrongType("bool", *this);
  return std::get<1>(v_);
}

int64_t Value::as_int() const {
  if (is_bool()) return std::get<1>(v_) ? 1 : 0;
  if (!is_int()) ThrowWrongType("int", *this);
  return std::get<2>(v_);
}

double Value::as_float() const {
  if (is_bool()) return std::get<1>(v_) ? 1.0 : 0.0;
  if (is_int()) return static_cast<double>(std::get<2>(v_));
  if (!is_float()) ThrowWrongType("float", *this);
  return std::get<3>(v_);
}

const std::string& Value::as_str() const {
  if (!is_str()) ThrowWrongType("str", *this);
  return std::get<4>(v_);
}

const std::string& Value::as_bytes() const {
  if (!is_bytes()) ThrowWrongType("bytes", *this);
  return std::get<5>(v_);
}

const Value::List& Value::as_list() const& {
  if (!is_list()) ThrowWrongType("list", *this);
  return *std::get<6>(v_);
}

Value::List& Value::as_list() & {
  if (!is_list()) ThrowWrongType("list", *this);
  std::shared_ptr<List>& list = std::get<6>(v_);
  // Another Value shares the list: give this one its own before it changes.
  if (list.use_count() > 1) list = std::make_shared<List>(*list);
  return *list;
}

const Value::Dict& Value::as_dict() const& {
  if (!is_dict()) ThrowWrongType("dict", *this);
  return *std::get<7>(v_);
}

Value::Dict& Value::as_dict() & {
  if (!is_dict()) ThrowWrongType("dict", *this);
  std::shared_ptr<Dict>& dict = std::get<7>(v_);
  if (dict.use_count() > 1) dict = std::make_shared<Dict>(*dict);
  return *dict;
}

Value::List Value::as_list() && {
  if (!is_list()) ThrowWrongType("list", *this);
  std::shared_ptr<List>& list = std::get<6>(v_);
  if (list.use_count() > 1) return *list;
  return std::move(*list);
}

Value::Dict Value::as_dict() && {
  if (!is_dict()) ThrowWrongType("dict", *this);
  std::shared_ptr<Dict>& dict = std::get<7>(v_);
  if (dict.use_count() > 1) return *dict;
  return std::move(*dict);
}

const ObjectRef& Value::as_ref() const {
  if (!is_ref()) ThrowWrongType("reference", *this);
  return std::get<8>(v_);
}

bool Value::truthy() const {
  switch (type()) {
    case Type::kNone:
      return false;
    case Type::kBool:
      return std::get<1>(v_);
    case Type::kInt:
      return std::get<2>(v_) != 0;
    case Type::kFloat:
      return std::get<3>(v_) != 0.0;  // NaN is true, as in Python
    case Type::kStr:
      return !std::get<4>(v_).empty();
    case Type::kBytes:
      return !std::get<5>(v_).empty();
    case Type::kList:
      return !std::get<6>(v_)->empty();
    case Type::kDict:
      return !std::get<7>(v_)->empty();
    case Type::kRef:
      // The object's contents live on the server; the reference itself is
      // an object, and objects are true.
      return true;
  }
  return false;
}

bool Value::hashable() const { return !is_list() && !is_dict(); }

size_t Value::hash() const {
  switch (type()) {
    case Type::kNone:
      // Any constant works: None equals only None.
      return 0x4e6f6e65;
    case Type::kBool:
      return static_cast<size_t>(std::get<1>(v_) ? 1 : 0);
    case Type::kInt:
      return static_cast<size_t>(HashInt(std::get<2>(v_)));
    case Type::kFloat:
      return static_cast<size_t>(HashFloat(std::get<3>(v_)));
    case Type::kStr:
      return std::hash<std::string_view>()(std::get<4>(v_));
    case Type::kBytes:
      return std::hash<std::string_view>()(std::get<5>(v_));
    case Type::kRef:
      // References are equal by id alone, so only the id may feed the hash.
      return std::hash<uint64_t>()(std::get<8>(v_).id) ^ 0x9e3779b97f4a7c15ULL;
    case Type::kList:
    case Type::kDict:
      break;
  }
  throw TypeError(std::string("unhashable type: '") + type_name() + "'");
}

bool operator==(const Value& a, const Value& b) {
  using Type = Value::Type;
  if (a.is_number() && b.is_number()) {
    if (a.is_float() && b.is_float()) return std::get<3>(a.v_) == std::get<3>(b.v_);
    if (a.is_float() || b.is_float()) {
      double d = a.is_float() ? std::get<3>(a.v_) : std::get<3>(b.v_);
      int64_t i = a.is_float() ? b.as_int() : a.as_int();
      return !std::isnan(d) && CompareIntFloat(i, d) == 0;
    }
    return a.as_int() == b.as_int();
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Type::kNone:
      return true;
    case Type::kStr:
      return std::get<4>(a.v_) == std::get<4>(b.v_);
    case Type::kBytes:
      return std::get<5>(a.v_) == std::get<5>(b.v_);
    case Type::kList: {
      const auto& la = std::get<6>(a.v_);
      const auto& lb = std::get<6>(b.v_);
      // Python compares a container with itself as equal by identity first;
      // a shared list is the same object.
      if (la == lb) return true;
      return *la == *lb;
    }
    case Type::kDict: {
      const auto& da = std::get<7>(a.v_);
      const auto& db = std::get<7>(b.v_);
      if (da == db) return true;
      return *da == *db;
    }
    case Type::kRef:
      return std::get<8>(a.v_).id == std::get<8>(b.v_).id;
    case Type::kBool:
    case Type::kInt:
    case Type::kFloat:
      break;  // handled above
  }
  return false;
}

std::optional<int> Value::Compare(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() && b.is_float()) return CompareFloats(std::get<3>(a.v_), std::get<3>(b.v_));
    if (a.is_float()) return -CompareIntFloat(b.as_int(), std::get<3>(a.v_));
    if (b.is_float()) return CompareIntFloat(a.as_int(), std::get<3>(b.v_));
    int64_t x = a.as_int();
    int64_t y = b.as_int();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.type() != b.type()) return std::nullopt;
  switch (a.type()) {
    case Type::kStr:
      return CompareBytes(std::get<4>(a.v_), std::get<4>(b.v_));
    case Type::kBytes:
      return CompareBytes(std::get<5>(a.v_), std::get<5>(b.v_));
    case Type::kList: {
      const List& la = *std::get<6>(a.v_);
      const List& lb = *std::get<6>(b.v_);
      size_t common = std::min(la.size(), lb.size());
      // Python orders lists by their first unequal items, found with ==, so
      // equal items of types that do not order (None, dicts) are skipped.
      for (size_t i = 0; i < common; ++i) {
        if (!(la[i] == lb[i])) return Compare(la[i], lb[i]);
      }
      if (la.size() == lb.size()) return 0;
      return la.size() < lb.size() ? -1 : 1;
    }
    default:
      return std::nullopt;
  }
}

std::string Value::repr() const {
  std::string out;
  switch (type()) {
    case Type::kNone:
      out = "None";
      break;
    case Type::kBool:
      out = std::get<1>(v_) ? "True" : "False";
      break;
    case Type::kInt:
      out = std::to_string(std::get<2>(v_));
      break;
    case Type::kFloat:
      AppendFloatRepr(std::get<3>(v_), &out);
      break;
    case Type::kStr:
      AppendStrRepr(std::get<4>(v_), &out);
      break;
    case Type::kBytes:
      AppendBytesRepr(std::get<5>(v_), &out);
      break;
    case Type::kList: {
      out.push_back('[');
      bool first = true;
      for (const Value& item : *std::get<6>(v_)) {
        if (!first) out.append(", ");
        first = false;
        out.append(item.repr());
      }
      out.push_back(']');
      break;
    }
    case Type::kDict: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, value] : *std::get<7>(v_)) {
        if (!first) out.append(", ");
        first = false;
        out.append(key.repr());
        out.append(": ");
        out.append(value.repr());
      }
      out.push_back('}');
      break;
    }
    case Type::kRef: {
      const ObjectRef& ref = std::get<8>(v_);
      out = std::string("<shoal ") + KindName(ref.kind) + " #" + std::to_string(ref.id) + ">";
      break;
    }
  }
  return out;
}

bool Value::contains_ref() const {
  switch (type()) {
    case Type::kRef:
      return true;
    case Type::kList:
      for (const Value& item : *std::get<6>(v_)) {
        if (item.contains_ref()) return true;
      }
      return false;
    case Type::kDict:
      for (const auto& [key, value] : *std::get<7>(v_)) {
        if (key.contains_ref() || value.contains_ref()) return true;
      }
      return false;
    default:
      return false;
  }
}

ValueDict::ValueDict(ValueDict&& other) noexcept { Swap(other); }

ValueDict& ValueDict::operator=(const ValueDict& other) {
  // Copied before anything is released: other may live inside one of this
  // dict's values.
  ValueDict copy(other);
  Swap(copy);
  return *this;
}

ValueDict& ValueDict::operator=(ValueDict&& other) noexcept {
  // Taken out first, for the same reason; the old entries go with taken.
  ValueDict taken(std::move(other));
  Swap(taken);
  return *this;
}

void ValueDict::Swap(ValueDict& other) noexcept {
  slots_.swap(other.slots_);
  index_.swap(other.index_);
  std::swap(live_, other.live_);
  std::swap(index_used_, other.index_used_);
  std::swap(first_, other.first_);
}

ValueDict::const_iterator ValueDict::begin() const {
  const Slot* end = slots_.data() + slots_.size();
  return live_ == 0 ? const_iterator(end, end) : const_iterator(slots_.data() + first_, end);
}

ValueDict::const_iterator ValueDict::end() const {
  const Slot* end = slots_.data() + slots_.size();
  return const_iterator(end, end);
}

ValueDict::iterator ValueDict::begin() {
  Slot* end = slots_.data() + slots_.size();
  return live_ == 0 ? iterator(end, end) : iterator(slots_.data() + first_, end);
}

ValueDict::iterator ValueDict::end() {
  Slot* end = slots_.data() + slots_.size();
  return iterator(end, end);
}

// The probe sequence is CPython's: i = 5 * i + 1 + perturb, with perturb the
// hash shifted right by 5 bits at each step. The high bits of the hash take
// part early, and once perturb is spent the recurrence visits every slot of a
// power-of-two table, so a probe ends at an empty slot (the table is never
// more than 2/3 full).
ValueDict::Probe ValueDict::Lookup(const Value& key, size_t hash) const {
  const size_t mask = index_.size() - 1;
  size_t perturb = hash;
  size_t i = hash & mask;
  size_t first_removed = index_.size();
  while (true) {
    const uint32_t pos = index_[i];
    if (pos == kEmpty) return Probe{first_removed != index_.size() ? first_removed : i, false};
    if (pos == kRemoved) {
      if (first_removed == index_.size()) first_removed = i;
    } else {
      const Slot& slot = slots_[pos];
      if (slot.hash == hash && slot.entry.first == key) return Probe{i, true};
    }
    perturb >>= 5;
    i = (i * 5 + perturb + 1) & mask;
  }
}

size_t ValueDict::IndexSlotOf(size_t pos, size_t hash) const {
  const size_t mask = index_.size() - 1;
  size_t perturb = hash;
  size_t i = hash & mask;
  while (index_[i] != pos) {
    perturb >>= 5;
    i = (i * 5 + perturb + 1) & mask;
  }
  return i;
}

void ValueDict::Rebuild(size_t entries) {
  if (live_ != slots_.size()) {
    size_t kept = 0;
    for (size_t pos = first_; pos < slots_.size(); ++pos) {
      if (!slots_[pos].live) continue;
      if (pos != kept) slots_[kept] = std::move(slots_[pos]);
      ++kept;
    }
    slots_.erase(slots_.begin() + static_cast<std::ptrdiff_t>(kept), slots_.end());
    first_ = 0;
  }
  size_t size = kMinIndexSize;
  while (Usable(size) < entries) size *= 2;
  index_.assign(size, kEmpty);
  const size_t mask = size - 1;
  for (size_t pos = 0; pos < slots_.size(); ++pos) {
    size_t perturb = slots_[pos].hash;
    size_t i = perturb & mask;
    while (index_[i] != kEmpty) {
      perturb >>= 5;
      i = (i * 5 + perturb + 1) & mask;
    }
    index_[i] = static_cast<uint32_t>(pos);
  }
  index_used_ = live_;
}

void ValueDict::reserve(size_t n) {
  if (n <= live_) return;
  const size_t more = n - live_;
  if (slots_.size() + more > slots_.capacity()) {
    slots_.reserve(std::max(slots_.size() + more, 2 * slots_.capacity()));
  }
  if (index_used_ + more > Usable(index_.size())) Rebuild(n);
}

const Value* ValueDict::find(const Value& key) const {
  if (live_ == 0) return nullptr;
  return find_hashed(key, key.hash());
}

const Value* ValueDict::find_hashed(const Value& key, size_t hash) const {
  if (live_ == 0) return nullptr;
  Probe probe = Lookup(key, hash);
  return probe.found ? &slots_[index_[probe.index_slot]].entry.second : nullptr;
}

Value* ValueDict::find(const Value& key) {
  return const_cast<Value*>(std::as_const(*this).find(key));
}

ValueDict::const_iterator ValueDict::find_entry(const Value& key) const {
  if (live_ == 0) return end();
  Probe probe = Lookup(key, key.hash());
  if (!probe.found) return end();
  const Slot* end = slots_.data() + slots_.size();
  return const_iterator(slots_.data() + index_[probe.index_slot], end);
}

bool ValueDict::set(Value key, Value value) {
  const size_t hash = key.hash();
  return Store(key, value, hash);
}

bool ValueDict::set_hashed(Value key, Value value, size_t hash) { return Store(key, value, hash); }

Value* ValueDict::slot_hashed(Value& key, size_t hash, bool* inserted) {
  if (!index_.empty()) {
    const Probe probe = Lookup(key, hash);
    if (probe.found) {
      *inserted = false;
      return &slots_[index_[probe.index_slot]].entry.second;
    }
  }
  Value none;
  Store(key, none, hash);
  *inserted = true;
  return &slots_.back().entry.second;
}

bool ValueDict::Store(Value& key, Value& value, size_t hash) {
  Probe probe{0, false};
  if (!index_.empty()) {
    probe = Lookup(key, hash);
    if (probe.found) {
      slots_[index_[probe.index_slot]].entry.second = std::move(value);
      return false;
    }
  }
  if (slots_.size() >= kRemoved) throw std::length_error("dict too large");
  if (index_.empty() ||
      (index_[probe.index_slot] == kEmpty && index_used_ + 1 > Usable(index_.size()))) {
    // Room for twice the entries: the table is about a third full after.
    Rebuild(2 * (live_ + 1));
    probe = Lookup(key, hash);
  }
  if (index_[probe.index_slot] == kEmpty) ++index_used_;
  index_[probe.index_slot] = static_cast<uint32_t>(slots_.size());
  slots_.push_back(Slot{Entry(std::move(key), std::move(value)), hash, true});
  ++live_;
  return true;
}

void ValueDict::RemoveAt(size_t pos, size_t index_slot) {
  index_[index_slot] = kRemoved;
  Slot& slot = slots_[pos];
  slot.live = false;
  slot.entry = Entry();
  --live_;
  // No hole stays at the end, so that pop_last finds the last entry at once.
  while (!slots_.empty() && !slots_.back().live) slots_.pop_back();
  if (live_ == 0) {
    first_ = 0;
    return;
  }
  while (!slots_[first_].live) ++first_;
  const size_t holes = slots_.size() - live_;
  if (holes > live_ && holes >= kMinHolesToSqueeze) Rebuild(2 * live_);
}

std::optional<Value> ValueDict::take(const Value& key) {
  if (live_ == 0) return std::nullopt;
  Probe probe = Lookup(key, key.hash());
  if (!probe.found) return std::nullopt;
  const size_t pos = index_[probe.index_slot];
  Value value = std::move(slots_[pos].entry.second);
  RemoveAt(pos, probe.index_slot);
  return value;
}

ValueDict::Entry ValueDict::pop_last() {
  const size_t pos = slots_.size() - 1;
  Entry entry = std::move(slots_[pos].entry);
  RemoveAt(pos, IndexSlotOf(pos, slots_[pos].hash));
  return entry;
}

void ValueDict::clear() {
  // Swapped out rather than cleared, so the memory goes back too.
  std::vector<Slot> slots;
  std::vector<uint32_t> index;
  slots.swap(slots_);
  index.swap(index_);
  live_ = 0;
  index_used_ = 0;
  first_ = 0;
}

bool operator==(const ValueDict& a, const ValueDict& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [key, value] : a) {
    const Value* other = b.find(key);
    if (other == nullptr || !(*other == value)) return false;
  }
  return true;
}

}  // namespace shoal
