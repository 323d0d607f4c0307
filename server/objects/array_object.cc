#include "server/objects/array_object.h"

#include <cstring>
#include <new>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/objects/slice.h"
#include "server/objects/typecode.h"
#include "shared/error_kind.h"
#include "shared/utf8.h"

namespace shoal::server {
namespace {

template <typename T>
void Put(T value, unsigned char* out) {
  std::memcpy(out, &value, sizeof(T));
}

template <typename T>
T Take(const unsigned char* in) {
  T value;
  std::memcpy(&value, in, sizeof(T));
  return value;
}

// Python's item index: a negative index counts from the end. nullopt when
// the index is outside the array.
std::optional<int64_t> ItemIndex(int64_t index, int64_t length) {
  if (index < 0) index += length;  // Cannot overflow: index < 0 <= length.
  if (index < 0 || index >= length) return std::nullopt;
  return index;
}

// The characters of a UTF-8 str: its bytes that do not continue a sequence.
int64_t CountCharacters(const std::string& text) {
  int64_t count = 0;
  for (char c : text) count += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return count;
}

}  // namespace

absl::StatusOr<ArrayObject::Layout> ArrayObject::LayoutOf(const std::string& typecode) {
  if (std::optional<IntType> ints = IntTypeOf(typecode)) {
    return Layout{ints->is_signed ? ItemType::kSigned : ItemType::kUnsigned, ints->size,
                  ints->min, ints->max};
  }
  if (typecode.size() == 1) {
    switch (typecode[0]) {
      case 'f':
        return Layout{ItemType::kFloat32, 4};
      case 'd':
        return Layout{ItemType::kFloat64, 8};
      case 'u':
        return Layout{ItemType::kChar, 4};
      default:
        break;
    }
  }
  return error::ValueError(absl::StrCat(
      "bad typecode '", typecode, "' (must be b, B, u, h, H, i, I, l, L, q, Q, f or d)"));
}

absl::StatusOr<std::unique_ptr<ArrayObject>> ArrayObject::Create(MemoryBudget* budget,
                                                                 const std::string& typecode,
                                                                 const Value& initial) {
  absl::StatusOr<Layout> layout = LayoutOf(typecode);
  if (!layout.ok()) return layout.status();
  // The items to start from, when given; a length alone means zeros.
  Value::List given;
  int64_t length = 0;
  if (initial.is_int() || initial.is_bool()) {
    length = initial.as_int();
    if (length < 0) {
      return error::ValueError(absl::StrCat("an Array's length must be >= 0, not ", length));
    }
  } else if (initial.is_list()) {
    given = initial.as_list();
    length = static_cast<int64_t>(given.size());
  } else if (initial.is_str()) {
    const std::string& text = initial.as_str();
    for (size_t at = 0; at < text.size();) {
      uint32_t code_point = 0;
      const size_t step = DecodeUtf8(text, at, &code_point);
      if (step == 0) return error::ValueError("an Array's initial str is not UTF-8");
      given.push_back(Value(text.substr(at, step)));
      at += step;
    }
    length = static_cast<int64_t>(given.size());
  } else {
    return error::TypeError(absl::StrCat("an Array starts from a length or a list, not '",
                                         initial.type_name(), "'"));
  }
  int64_t bytes = 0;
  if (__builtin_mul_overflow(length, static_cast<int64_t>(layout->size), &bytes)) {
    return error::LimitError(
        absl::StrCat("an Array of ", length, " items of typecode '", typecode, "' is too large"));
  }
  // Charged before the bytes are allocated: a length past --max-bytes takes
  // no memory. The array's account adopts the charge.
  if (budget != nullptr) {
    absl::Status reserved = budget->Reserve(bytes);
    if (!reserved.ok()) return reserved;
  }
  std::vector<unsigned char> items;
  try {
    items.resize(static_cast<size_t>(bytes));
  } catch (const std::bad_alloc&) {
    // Only without a byte limit, or with one past what the host can give.
    if (budget != nullptr) budget->Release(bytes);
    return error::LimitError(
        absl::StrCat("cannot allocate ", bytes, " bytes for an Array of ", length, " items"));
  }
  std::unique_ptr<ArrayObject> array(
      new ArrayObject(budget, typecode, *layout, length, std::move(items)));
  MutexLock lock(&array->mu_);
  for (int64_t i = 0; i < static_cast<int64_t>(given.size()); ++i) {
    absl::StatusOr<Item> item = array->Encode(given[static_cast<size_t>(i)]);
    if (!item.ok()) return item.status();
    array->Store(i, *item);
  }
  return array;
}

ArrayObject::ArrayObject(MemoryBudget* budget, std::string typecode, Layout layout,
                         int64_t length, std::vector<unsigned char> items)
    : Object(Kind::kArray),
      typecode_(std::move(typecode)),
      layout_(layout),
      length_(length),
      account_(budget, length * layout.size),
      items_(std::move(items)) {}

absl::StatusOr<ArrayObject::Item> ArrayObject::Encode(const Value& value) const {
  Item item;
  unsigned char* out = item.bytes;
  switch (layout_.type) {
    case ItemType::kSigned:
    case ItemType::kUnsigned: {
      absl::StatusOr<int64_t> checked =
          IntFor(typecode_, layout_.min, layout_.max, ShowRange::kYes, value);
      if (!checked.ok()) return checked.status();
      const int64_t i = *checked;
      // In range, so each conversion below keeps the value.
      const bool is_signed = layout_.type == ItemType::kSigned;
      switch (layout_.size) {
        case 1:
          is_signed ? Put(static_cast<int8_t>(i), out) : Put(static_cast<uint8_t>(i), out);
          break;
        case 2:
          is_signed ? Put(static_cast<int16_t>(i), out) : Put(static_cast<uint16_t>(i), out);
          break;
        case 4:
          is_signed ? Put(static_cast<int32_t>(i), out) : Put(static_cast<uint32_t>(i), out);
          break;
        default:
          is_signed ? Put(i, out) : Put(static_cast<uint64_t>(i), out);
          break;
      }
      return item;
    }
    case ItemType::kFloat32:
    case ItemType::kFloat64:
      if (!value.is_number()) return WrongTypeFor(typecode_, "a number", value);
      if (layout_.type == ItemType::kFloat32) {
        // Rounded to the nearest float32; past its range, an infinity, as
        // ctypes' c_float and Python's array('f') store it.
        Put(static_cast<float>(value.as_float()), out);
      } else {
        Put(value.as_float(), out);
      }
      return item;
    case ItemType::kChar: {
      if (!value.is_str()) return WrongTypeFor(typecode_, "a str of one character", value);
      const std::string& text = value.as_str();
      uint32_t code_point = 0;
      if (text.empty() || DecodeUtf8(text, 0, &code_point) != text.size()) {
        return error::TypeError(absl::StrCat("typecode '", typecode_,
                                             "' needs a str of one character, not of ",
                                             CountCharacters(text)));
      }
      Put(code_point, out);
      return item;
    }
  }
  return item;
}

Value ArrayObject::Load(int64_t index) const {
  const unsigned char* in = items_.data() + index * layout_.size;
  switch (layout_.type) {
    case ItemType::kSigned:
      switch (layout_.size) {
        case 1:
          return Value(static_cast<int64_t>(Take<int8_t>(in)));
        case 2:
          return Value(static_cast<int64_t>(Take<int16_t>(in)));
        case 4:
          return Value(static_cast<int64_t>(Take<int32_t>(in)));
        default:
          return Value(Take<int64_t>(in));
      }
    case ItemType::kUnsigned:
      switch (layout_.size) {
        case 1:
          return Value(static_cast<int64_t>(Take<uint8_t>(in)));
        case 2:
          return Value(static_cast<int64_t>(Take<uint16_t>(in)));
        case 4:
          return Value(static_cast<int64_t>(Take<uint32_t>(in)));
        default:
          // Only values up to INT64_MAX are ever stored.
          return Value(static_cast<int64_t>(Take<uint64_t>(in)));
      }
    case ItemType::kFloat32:
      return Value(static_cast<double>(Take<float>(in)));
    case ItemType::kFloat64:
      return Value(Take<double>(in));
    case ItemType::kChar: {
      std::string text;
      AppendUtf8(Take<uint32_t>(in), &text);
      return Value(std::move(text));
    }
  }
  return Value();
}

void ArrayObject::Store(int64_t index, const Item& item) {
  std::memcpy(items_.data() + index * layout_.size, item.bytes, layout_.size);
}

absl::StatusOr<Value> ArrayObject::GetItem(int64_t index) const {
  const std::optional<int64_t> at = ItemIndex(index, length_);
  if (!at.has_value()) return error::IndexError("array index out of range");
  ReaderMutexLock lock(&mu_);
  return Load(*at);
}

absl::Status ArrayObject::SetItem(int64_t index, const Value& value) {
  const std::optional<int64_t> at = ItemIndex(index, length_);
  if (!at.has_value()) return error::IndexError("array assignment index out of range");
  absl::StatusOr<Item> item = Encode(value);
  if (!item.ok()) return item.status();
  MutexLock lock(&mu_);
  Store(*at, *item);
  return absl::OkStatus();
}

absl::StatusOr<Value::List> ArrayObject::GetSlice(std::optional<int64_t> start,
                                                  std::optional<int64_t> stop,
                                                  std::optional<int64_t> step,
                                                  int64_t max_items) const {
  absl::StatusOr<ResolvedSlice> slice = ResolveSlice(start, stop, step, length_);
  if (!slice.ok()) return slice.status();
  if (slice->count > max_items) {
    return error::LimitError(absl::StrCat("the reply would hold ", slice->count,
                                          " items, past the server's message limit; "
                                          "read large Arrays in slices"));
  }
  Value::List out;
  out.reserve(static_cast<size_t>(slice->count));
  ReaderMutexLock lock(&mu_);
  for (int64_t i = 0; i < slice->count; ++i) out.push_back(Load(slice->IndexAt(i)));
  return out;
}

absl::Status ArrayObject::SetSlice(std::optional<int64_t> start, std::optional<int64_t> stop,
                                   std::optional<int64_t> step, const Value::List& values) {
  absl::StatusOr<ResolvedSlice> slice = ResolveSlice(start, stop, step, length_);
  if (!slice.ok()) return slice.status();
  if (static_cast<int64_t>(values.size()) != slice->count) {
    // ctypes' rule: an Array cannot grow or shrink.
    return error::ValueError(absl::StrCat("can only assign a sequence of the same size: the slice "
                                          "has ",
                                          slice->count, " items, ", values.size(), " given"));
  }
  std::vector<Item> items;
  items.reserve(values.size());
  for (const Value& value : values) {
    absl::StatusOr<Item> item = Encode(value);
    if (!item.ok()) return item.status();
    items.push_back(*item);
  }
  MutexLock lock(&mu_);
  for (int64_t i = 0; i < slice->count; ++i) {
    Store(slice->IndexAt(i), items[static_cast<size_t>(i)]);
  }
  return absl::OkStatus();
}

Value::List ArrayObject::ToList() const {
  Value::List out;
  out.reserve(static_cast<size_t>(length_));
  ReaderMutexLock lock(&mu_);
  for (int64_t i = 0; i < length_; ++i) out.push_back(Load(i));
  return out;
}

std::string ArrayObject::Repr() const {
  std::string out = absl::StrCat("array('", typecode_, "'");
  if (length_ == 0) return out + ")";
  ReaderMutexLock lock(&mu_);
  if (layout_.type == ItemType::kChar) {
    // Python shows a 'u' array's items as one str.
    std::string text;
    int64_t i = 0;
    for (; i < length_ && text.size() < kReprLimit; ++i) text += Load(i).as_str();
    return absl::StrCat(out, ", ", Value(std::move(text)).repr(), i < length_ ? "...)" : ")");
  }
  out += ", [";
  for (int64_t i = 0; i < length_; ++i) {
    if (out.size() >= kReprLimit) return out + "...])";
    if (i > 0) out += ", ";
    out += Load(i).repr();
  }
  return out + "])";
}

}  // namespace shoal::server
