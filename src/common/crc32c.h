// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum of every
// Lode on-disk format (WAL entries, segments).
//
// Uses the SSE4.2 CRC32 instruction when the CPU has it (checked once, at the
// first call) and a table-driven software implementation otherwise; both give
// identical results. All functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lode::crc32c {

// Returns the CRC-32C of A+B, given `crc` = the CRC-32C of some string A and
// `data[0, n)` = B. Extend(0, data, n) is the CRC-32C of data[0, n).
uint32_t Extend(uint32_t crc, const char* data, size_t n);

inline uint32_t Extend(uint32_t crc, std::string_view data) {
  return Extend(crc, data.data(), data.size());
}

// The CRC-32C of data[0, n), e.g. Value("123456789", 9) == 0xE3069283.
inline uint32_t Value(const char* data, size_t n) {
  return Extend(0, data, n);
}
inline uint32_t Value(std::string_view data) {
  return Extend(0, data.data(), data.size());
}

// Computing the CRC of a string that contains embedded CRCs is weak (a CRC of
// data followed by its own CRC is a constant), so stored checksums are masked
// (as in LevelDB): rotate right by 15 bits and add a constant.
inline constexpr uint32_t kMaskDelta = 0xa282ead8u;

// Returns the masked form of `crc`, the form to store.
inline constexpr uint32_t Mask(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + kMaskDelta;
}

// Returns the crc whose masked form is `masked_crc`: Unmask(Mask(c)) == c.
inline constexpr uint32_t Unmask(uint32_t masked_crc) {
  uint32_t rot = masked_crc - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

// Implementation details, exposed for tests and benchmarks.

// True if Extend uses the SSE4.2 instruction on this CPU.
bool IsHardwareAccelerated();
// The table-driven implementation (slicing-by-8); works on every CPU.
uint32_t ExtendPortable(uint32_t crc, const char* data, size_t n);
// The SSE4.2 implementation. REQUIRES: IsHardwareAccelerated(); on CPUs or
// builds without SSE4.2 support it falls back to ExtendPortable.
uint32_t ExtendHardware(uint32_t crc, const char* data, size_t n);

}  // namespace lode::crc32c
