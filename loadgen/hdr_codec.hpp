#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "loadgen/histogram.hpp"

namespace muxbench::hdr {

// HdrHistogram's standard "V2 compressed" encoding of a histogram, as HdrHistogram's
// AbstractHistogram.encodeIntoCompressedByteBuffer writes it (and hdr_histogram_log.c's
// hdr_encode_compressed), byte for byte, big-endian:
//   compressed cookie 0x1c849314 | deflated length | zlib-deflated {
//     cookie 0x1c849313 | payload length | normalizing index offset (0) | significant digits (3) |
//     lowest discernible value (1) | highest trackable value (60e9) |
//     integer-to-double conversion ratio (1.0) |
//     payload: the counts of indexes 0 .. index of max, ZigZag LEB128 (9 bytes at most), a run of
//     N > 1 zero counts written as -N }
// LatencyHistogram's layout is exactly that of an HdrHistogram with lowest discernible value 1,
// highest trackable value 60e9 and 3 significant digits, so the counts go across unchanged.

class FormatError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

inline constexpr std::uint32_t kV2EncodingCookie = 0x1c849303 | 0x10;
inline constexpr std::uint32_t kV2CompressedEncodingCookie = 0x1c849304 | 0x10;
inline constexpr int kSignificantDigits = 3;
// java.util.zip.Deflater.BEST_COMPRESSION, what HistogramLogWriter uses for every interval line.
inline constexpr int kLogCompressionLevel = 9;

// The compressed bytes and their base64 text (the form log lines and the plotter carry).
std::vector<std::uint8_t> encode_v2_compressed(const LatencyHistogram& histogram,
                                               int compression_level = kLogCompressionLevel);
std::string encode_v2_base64(const LatencyHistogram& histogram,
                             int compression_level = kLogCompressionLevel);

// Reads a V2 compressed histogram into our layout. Only count buckets travel in the encoding, so
// the result's count is exact; its min is the lowest value of the first non-empty bucket and its
// max the highest value of the last one (at most 60 s), as HdrHistogram's own decoder sets them;
// mean and standard deviation come from bucket midpoints, as HdrHistogram's getMean() does.
// Throws FormatError for anything else: another encoding (V0, V1, uncompressed, DoubleHistogram),
// another layout (significant digits other than 3, lowest discernible value other than 1, a
// normalizing index offset, a conversion ratio other than 1) or counts above 60 s.
LatencyHistogram decode_v2_compressed(std::span<const std::uint8_t> bytes);
LatencyHistogram decode_v2_base64(std::string_view base64);

// Standard base64 (RFC 4648, with '=' padding, no line breaks), as java.util.Base64 writes it.
std::string base64_encode(std::span<const std::uint8_t> bytes);
std::vector<std::uint8_t> base64_decode(std::string_view text);  // throws FormatError

}  // namespace muxbench::hdr
