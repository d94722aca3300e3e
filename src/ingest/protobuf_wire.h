// Reading protobuf's wire format by hand (for the few fixed schemas Lode
// accepts: Loki push, OTLP logs), without generated code.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/coding.h"

namespace lode::protowire {

// One field: number, wire type, and its value (a varint or fixed value, or
// the bytes of a length-delimited field).
struct Field {
  uint32_t number = 0;
  uint32_t wire = 0;  // 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
  uint64_t varint = 0;
  std::string_view bytes;
};

// Reads the next field of *in, advancing it; false when malformed (groups,
// wire types 3 and 4, are not used by these schemas and count as malformed).
inline bool NextField(std::string_view* in, Field* f) {
  uint64_t tag = 0;
  if (!GetVarint64(in, &tag)) return false;
  f->number = static_cast<uint32_t>(tag >> 3);
  f->wire = static_cast<uint32_t>(tag & 7);
  if (f->number == 0) return false;
  switch (f->wire) {
    case 0: return GetVarint64(in, &f->varint);
    case 1:
      if (in->size() < 8) return false;
      f->varint = DecodeFixed64(in->data());
      in->remove_prefix(8);
      return true;
    case 2: {
      uint64_t len = 0;
      if (!GetVarint64(in, &len) || len > in->size()) return false;
      f->bytes = in->substr(0, len);
      in->remove_prefix(len);
      return true;
    }
    case 5:
      if (in->size() < 4) return false;
      f->varint = DecodeFixed32(in->data());
      in->remove_prefix(4);
      return true;
    default: return false;
  }
}

// Appends a length-delimited field (for small answers such as google.rpc.Status).
inline void PutBytesField(std::string* out, uint32_t number, std::string_view bytes) {
  PutVarint32(out, number << 3 | 2);
  PutVarint64(out, bytes.size());
  out->append(bytes);
}
inline void PutVarintField(std::string* out, uint32_t number, uint64_t v) {
  PutVarint32(out, number << 3);
  PutVarint64(out, v);
}

}  // namespace lode::protowire
