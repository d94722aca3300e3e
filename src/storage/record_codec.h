// Binary codec for RecordBatch: the payload format of WAL entries (and of
// anything else that stores or ships a batch as bytes).
//
// The format (version 2, byte-level tables in docs/formats/wal.md):
//   u8 version | string tenant | varint record_count | record_count x record
//   record := varint zigzag(timestamp_ns - previous timestamp_ns)
//             varint zigzag(observed_ns - previous observed_ns)
//             u8 level | u8 flags | varint pattern_id
//             string service | string instance | string source | string message
//             varint attribute_count | attribute_count x (string key, string value)
//   string := varint byte_length | bytes
// The "previous" values start at 0 for the first record. Deltas use wrapping
// 64-bit arithmetic, so every int64 timestamp round-trips exactly.
//
// Version 1 is version 2 without pattern_id. DecodeBatch still reads it (its
// records get pattern_id 0), so a WAL written before the upgrade replays;
// EncodeBatch always writes version 2.
//
// The encoding carries no checksum: its container (WAL entry, segment block)
// has one. Record::tenant is not stored per record: every decoded record gets
// the batch's tenant.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/record.h"
#include "common/status.h"

namespace lode {

// The version byte EncodeBatch writes. DecodeBatch accepts it and every
// older version from kMinBatchCodecVersion on.
inline constexpr uint8_t kBatchCodecVersion = 2;
inline constexpr uint8_t kMinBatchCodecVersion = 1;

// Appends the encoding of `batch` to *out (existing contents of *out are kept).
// REQUIRES: every record's level is a Level enumerator (<= kFatal) and every
// record's tenant is batch.tenant (it is not stored; decoding restores it
// from the batch). Thread-safe for distinct `out`s.
void EncodeBatch(const RecordBatch& batch, std::string* out);

// Decodes `data`, which must hold exactly one encoded batch, into *batch
// (replacing its contents; the capacity of its strings is reused).
// Returns Corruption, with the field, the record index and the byte offset in
// the message, if `data` is truncated, has trailing bytes, has an unknown
// version, an invalid level or a pattern id over UINT32_MAX, or a length that
// overruns the input. Never reads outside `data`; memory allocated is bounded
// by a small multiple of data.size() whatever the lengths in it say. On error
// *batch is cleared. Decoding into a batch reused from call to call avoids
// most allocations and is several times faster than decoding into a fresh one.
// Thread-safe for distinct `batch`es.
Status DecodeBatch(std::string_view data, RecordBatch* batch);

}  // namespace lode
