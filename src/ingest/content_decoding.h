// Content-Encoding decoding for request bodies (gzip, deflate, zstd).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace lode {

// Decodes `in` per the HTTP Content-Encoding `encoding` ("", "identity",
// "gzip", "x-gzip", "deflate", "zstd"; case-insensitive) into *out, replacing
// its contents. Stops with TooLarge once the output would exceed `max_out`
// bytes (a decompression bomb costs us at most that much), InvalidArgument for
// an unknown encoding or a corrupt stream. Thread-safe.
Status DecodeContent(std::string_view encoding, std::string_view in, size_t max_out,
                     std::string* out);

// True when `encoding` is one DecodeContent accepts.
bool IsSupportedContentEncoding(std::string_view encoding);

}  // namespace lode
