// UTF-8 as a Python str holds it: one character decoded or encoded at a time.
// Plain functions; safe from any thread.
#ifndef SHOAL_SHARED_UTF8_H_
#define SHOAL_SHARED_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace shoal {

// The length (1 to 4) of the well-formed UTF-8 sequence at s[i], with its code
// point in *code_point; 0 when the bytes there are not valid UTF-8 (overlong,
// a surrogate, past U+10FFFF, truncated). Precondition: i < s.size().
size_t DecodeUtf8(std::string_view s, size_t i, uint32_t* code_point);

// Whether all of s is valid UTF-8, as DecodeUtf8 reads it.
bool IsValidUtf8(std::string_view s);

// Appends the UTF-8 encoding of code_point, a Unicode scalar value (at most
// U+10FFFF, not a surrogate).
void AppendUtf8(uint32_t code_point, std::string* out);

}  // namespace shoal

#endif  // SHOAL_SHARED_UTF8_H_
