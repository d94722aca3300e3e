// Byte-level encoding helpers shared by every on-disk and on-wire format.
//
// Fixed-width integers are little-endian. Varints are LEB128 (7 bits per byte,
// low group first, high bit set on every byte but the last); a 64-bit varint
// takes 1 to 10 bytes. Signed values that may be negative are zigzag-mapped
// first so that small magnitudes stay short.
//
// The Put* functions append to a std::string. The Get* functions read from a
// std::string_view "cursor": on success they consume what they read (the view
// is advanced past it) and return true; on failure (truncated or malformed
// input) they return false and leave the cursor unspecified. No function here
// reads outside the bytes it is given. All functions are pure and thread-safe.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace lode {

// Longest encoding of a 64-bit varint.
inline constexpr size_t kMaxVarint64Bytes = 10;
// Longest encoding of a 32-bit varint.
inline constexpr size_t kMaxVarint32Bytes = 5;

// --- Fixed-width, little-endian -------------------------------------------

// Writes `value` to dst[0..3]. REQUIRES: dst has room for 4 bytes.
inline void EncodeFixed32(char* dst, uint32_t value) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(dst, &value, sizeof(value));
  } else {
    for (int i = 0; i < 4; ++i) dst[i] = static_cast<char>(value >> (8 * i));
  }
}

// Writes `value` to dst[0..7]. REQUIRES: dst has room for 8 bytes.
inline void EncodeFixed64(char* dst, uint64_t value) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(dst, &value, sizeof(value));
  } else {
    for (int i = 0; i < 8; ++i) dst[i] = static_cast<char>(value >> (8 * i));
  }
}

// Reads 4 bytes at `src`. REQUIRES: 4 readable bytes.
inline uint32_t DecodeFixed32(const char* src) {
  if constexpr (std::endian::native == std::endian::little) {
    uint32_t v;
    std::memcpy(&v, src, sizeof(v));
    return v;
  } else {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(src[i])} << (8 * i);
    return v;
  }
}

// Reads 8 bytes at `src`. REQUIRES: 8 readable bytes.
inline uint64_t DecodeFixed64(const char* src) {
  if constexpr (std::endian::native == std::endian::little) {
    uint64_t v;
    std::memcpy(&v, src, sizeof(v));
    return v;
  } else {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(src[i])} << (8 * i);
    return v;
  }
}

// Appends the 4-byte little-endian encoding of `value` to *dst.
inline void PutFixed32(std::string* dst, uint32_t value) {
  char buf[4];
  EncodeFixed32(buf, value);
  dst->append(buf, sizeof(buf));
}

// Appends the 8-byte little-endian encoding of `value` to *dst.
inline void PutFixed64(std::string* dst, uint64_t value) {
  char buf[8];
  EncodeFixed64(buf, value);
  dst->append(buf, sizeof(buf));
}

// Reads a fixed32 from the front of *input and consumes it; false if fewer than 4 bytes.
inline bool GetFixed32(std::string_view* input, uint32_t* value) {
  if (input->size() < 4) return false;
  *value = DecodeFixed32(input->data());
  input->remove_prefix(4);
  return true;
}

// Reads a fixed64 from the front of *input and consumes it; false if fewer than 8 bytes.
inline bool GetFixed64(std::string_view* input, uint64_t* value) {
  if (input->size() < 8) return false;
  *value = DecodeFixed64(input->data());
  input->remove_prefix(8);
  return true;
}

// --- Varints ----------------------------------------------------------------

// Number of bytes the varint encoding of `value` takes (1..10).
inline constexpr size_t VarintLength(uint64_t value) {
  // One byte per started group of 7 significant bits; 0 still takes one byte.
  return static_cast<size_t>((std::bit_width(value | 1) + 6) / 7);
}

// Writes the varint encoding of `value` at `dst` and returns the byte past it.
// REQUIRES: dst has room for VarintLength(value) bytes.
inline char* EncodeVarint64(char* dst, uint64_t value) {
  auto* p = reinterpret_cast<unsigned char*>(dst);
  while (value >= 0x80) {
    *p++ = static_cast<unsigned char>(value | 0x80);
    value >>= 7;
  }
  *p++ = static_cast<unsigned char>(value);
  return reinterpret_cast<char*>(p);
}

// Appends the varint encoding of `value` to *dst.
inline void PutVarint64(std::string* dst, uint64_t value) {
  char buf[kMaxVarint64Bytes];
  char* end = EncodeVarint64(buf, value);
  dst->append(buf, static_cast<size_t>(end - buf));
}

// Appends the varint encoding of `value` to *dst (same bytes as PutVarint64).
inline void PutVarint32(std::string* dst, uint32_t value) {
  PutVarint64(dst, value);
}

// Decodes a varint from [p, limit). Returns the byte past it, or nullptr if the
// input ends inside the varint, the varint is longer than 10 bytes, or its value
// does not fit in 64 bits. Never reads at or past `limit`.
inline const char* DecodeVarint64(const char* p, const char* limit, uint64_t* value) {
  if (p < limit && (static_cast<uint8_t>(*p) & 0x80) == 0) {  // fast path: one byte
    *value = static_cast<uint8_t>(*p);
    return p + 1;
  }
  uint64_t result = 0;
  for (unsigned shift = 0; shift < 64 && p < limit; shift += 7) {
    uint64_t byte = static_cast<uint8_t>(*p++);
    if (shift == 63 && byte > 1) return nullptr;  // 10th byte may only carry bit 63
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *value = result;
      return p;
    }
  }
  return nullptr;
}

// Reads a varint from the front of *input and consumes it. False if *input is
// truncated or the varint is malformed (over 10 bytes or over 64 bits).
inline bool GetVarint64(std::string_view* input, uint64_t* value) {
  const char* begin = input->data();
  const char* end = DecodeVarint64(begin, begin + input->size(), value);
  if (end == nullptr) return false;
  input->remove_prefix(static_cast<size_t>(end - begin));
  return true;
}

// Like GetVarint64 but also fails if the value does not fit in 32 bits.
inline bool GetVarint32(std::string_view* input, uint32_t* value) {
  std::string_view copy = *input;
  uint64_t v;
  if (!GetVarint64(&copy, &v) || v > UINT32_MAX) return false;
  *value = static_cast<uint32_t>(v);
  *input = copy;
  return true;
}

// --- Zigzag -----------------------------------------------------------------

// Maps signed to unsigned so that small magnitudes encode short:
// 0 -> 0, -1 -> 1, 1 -> 2, -2 -> 3, ... Total over all int64 values.
inline constexpr uint64_t ZigZagEncode64(int64_t value) {
  return (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
}

// Inverse of ZigZagEncode64. Total over all uint64 values.
inline constexpr int64_t ZigZagDecode64(uint64_t value) {
  return static_cast<int64_t>((value >> 1) ^ (~(value & 1) + 1));
}

// --- Length-prefixed byte strings ---------------------------------------------

// Appends varint(size) followed by the bytes of `value`.
inline void PutLengthPrefixed(std::string* dst, std::string_view value) {
  PutVarint64(dst, value.size());
  dst->append(value);
}

// Reads a length-prefixed string from the front of *input and consumes it.
// *result points into the bytes of *input (no copy). False if the length or
// the bytes are truncated.
inline bool GetLengthPrefixed(std::string_view* input, std::string_view* result) {
  std::string_view copy = *input;
  uint64_t len;
  if (!GetVarint64(&copy, &len) || len > copy.size()) return false;
  *result = copy.substr(0, static_cast<size_t>(len));
  copy.remove_prefix(static_cast<size_t>(len));
  *input = copy;
  return true;
}

}  // namespace lode
