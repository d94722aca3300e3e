#include "ingest/content_decoding.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <memory>

namespace lode {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  while (!out.empty() && out.back() == ' ') out.pop_back();
  while (!out.empty() && out.front() == ' ') out.erase(out.begin());
  return out;
}

std::string TooLargeMessage(size_t max_out) {
  return "decompressed body exceeds the limit of " + std::to_string(max_out) + " bytes";
}

Status Inflate(std::string_view in, bool gzip, size_t max_out, std::string* out) {
  z_stream zs{};
  // 15+32: zlib or gzip header, detected automatically.
  int window_bits = gzip ? 15 + 32 : 15;
  if (inflateInit2(&zs, window_bits) != Z_OK) return Status::Internal("inflateInit2 failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  out->clear();
  size_t chunk = std::max<size_t>(in.size() * 4, 64 * 1024);
  for (;;) {
    size_t have = out->size();
    size_t grow = std::min(chunk, max_out + 1 - have);
    out->resize(have + grow);
    zs.next_out = reinterpret_cast<Bytef*>(out->data() + have);
    zs.avail_out = static_cast<uInt>(grow);
    int rc = inflate(&zs, Z_NO_FLUSH);
    out->resize(have + grow - zs.avail_out);
    if (rc == Z_STREAM_END) {
      // Concatenated gzip members are legal: continue with the next one.
      if (gzip && zs.avail_in > 0) {
        if (inflateReset(&zs) != Z_OK) return Status::Internal("inflateReset failed");
        continue;
      }
      return Status::OK();
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return Status::InvalidArgument(
          std::string(gzip ? "invalid gzip body: " : "invalid deflate body: ") +
          (zs.msg ? zs.msg : "corrupt stream"));
    }
    if (out->size() > max_out) return Status::TooLarge(TooLargeMessage(max_out));
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      return Status::InvalidArgument(gzip ? "invalid gzip body: truncated stream"
                                          : "invalid deflate body: truncated stream");
    }
  }
}

Status Unzstd(std::string_view in, size_t max_out, std::string* out) {
  std::unique_ptr<ZSTD_DStream, size_t (*)(ZSTD_DStream*)> ds(ZSTD_createDStream(),
                                                              ZSTD_freeDStream);
  if (!ds) return Status::Internal("ZSTD_createDStream failed");
  ZSTD_initDStream(ds.get());
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  out->clear();
  size_t chunk = std::max<size_t>(in.size() * 4, ZSTD_DStreamOutSize());
  size_t last = 1;
  while (input.pos < input.size) {
    size_t have = out->size();
    size_t grow = std::min(chunk, max_out + 1 - have);
    out->resize(have + grow);
    ZSTD_outBuffer output{out->data() + have, grow, 0};
    last = ZSTD_decompressStream(ds.get(), &output, &input);
    out->resize(have + output.pos);
    if (ZSTD_isError(last)) {
      return Status::InvalidArgument(std::string("invalid zstd body: ") + ZSTD_getErrorName(last));
    }
    if (out->size() > max_out) return Status::TooLarge(TooLargeMessage(max_out));
    if (output.pos == 0 && input.pos == input.size) break;
  }
  // Flush what the decoder still holds.
  while (last != 0) {
    size_t have = out->size();
    size_t grow = std::min(chunk, max_out + 1 - have);
    out->resize(have + grow);
    ZSTD_outBuffer output{out->data() + have, grow, 0};
    last = ZSTD_decompressStream(ds.get(), &output, &input);
    out->resize(have + output.pos);
    if (ZSTD_isError(last)) {
      return Status::InvalidArgument(std::string("invalid zstd body: ") + ZSTD_getErrorName(last));
    }
    if (out->size() > max_out) return Status::TooLarge(TooLargeMessage(max_out));
    if (output.pos == 0) return Status::InvalidArgument("invalid zstd body: truncated frame");
  }
  return Status::OK();
}

}  // namespace

bool IsSupportedContentEncoding(std::string_view encoding) {
  std::string e = Lower(encoding);
  return e.empty() || e == "identity" || e == "gzip" || e == "x-gzip" || e == "deflate" ||
         e == "zstd";
}

Status DecodeContent(std::string_view encoding, std::string_view in, size_t max_out,
                     std::string* out) {
  std::string e = Lower(encoding);
  if (e.empty() || e == "identity") {
    if (in.size() > max_out) return Status::TooLarge(TooLargeMessage(max_out));
    out->assign(in);
    return Status::OK();
  }
  if (e == "gzip" || e == "x-gzip") return Inflate(in, true, max_out, out);
  if (e == "deflate") return Inflate(in, false, max_out, out);
  if (e == "zstd") return Unzstd(in, max_out, out);
  return Status::InvalidArgument("unsupported Content-Encoding \"" + std::string(encoding) +
                                 "\" (supported: gzip, deflate, zstd, identity)");
}

}  // namespace lode
