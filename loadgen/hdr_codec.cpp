#include "loadgen/hdr_codec.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <limits>
#include <nlohmann/json.hpp>

namespace muxbench::hdr {
namespace {

using Histogram = LatencyHistogram;

constexpr std::uint32_t kCookieBaseMask = ~std::uint32_t{0xf0};  // the word-size nibble aside
constexpr std::size_t kHeaderSize = 40;  // AbstractHistogram.ENCODING_HEADER_SIZE
constexpr std::size_t kMaxWordSize = 9;  // V2maxWordSizeInBytes: ZigZag LEB128 of a long
constexpr std::size_t kMaxUncompressed = kHeaderSize + Histogram::kBucketCount * kMaxWordSize;
constexpr std::uint64_t kLowestDiscernibleValue = 1;

void put_be(std::vector<std::uint8_t>& out, std::uint64_t value, int bytes) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
    out.push_back(static_cast<std::uint8_t>(value >> shift));
  }
}

std::uint64_t get_be(std::span<const std::uint8_t> in, std::size_t at, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = value << 8 | in[at + static_cast<std::size_t>(i)];
  return value;
}

// ZigZagEncoding.putLong: zigzag, then 7 bits a byte with a continuation bit, and the ninth byte
// (if reached) carries the top 8 bits whole.
void put_zigzag(std::vector<std::uint8_t>& out, std::int64_t signed_value) {
  std::uint64_t value = (static_cast<std::uint64_t>(signed_value) << 1) ^
                        static_cast<std::uint64_t>(signed_value >> 63);
  for (std::size_t i = 0; i + 1 < kMaxWordSize && value >> 7 != 0; ++i) {
    out.push_back(static_cast<std::uint8_t>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(value));
}

std::int64_t get_zigzag(std::span<const std::uint8_t> in, std::size_t& at) {
  std::uint64_t value = 0;
  for (std::size_t i = 0;; ++i) {
    if (at >= in.size()) throw FormatError("HdrHistogram payload: truncated LEB128 count");
    const std::uint8_t byte = in[at++];
    if (i + 1 == kMaxWordSize) {
      value |= std::uint64_t{byte} << 56;
      break;
    }
    value |= std::uint64_t{byte & 0x7fu} << (7 * i);
    if ((byte & 0x80) == 0) break;
  }
  return static_cast<std::int64_t>(value >> 1) ^ -static_cast<std::int64_t>(value & 1);
}

std::vector<std::uint8_t> uncompressed_v2(const Histogram& histogram) {
  std::vector<std::uint8_t> out;
  put_be(out, kV2EncodingCookie, 4);
  put_be(out, 0, 4);  // payload length, filled in below
  put_be(out, 0, 4);  // normalizing index offset
  put_be(out, kSignificantDigits, 4);
  put_be(out, kLowestDiscernibleValue, 8);
  put_be(out, Histogram::kHighestTrackable, 8);
  put_be(out, std::bit_cast<std::uint64_t>(1.0), 8);  // integer-to-double conversion ratio
  // fillBufferFromCountsArray: indexes up to that of the max; a run of N > 1 zeros is -N.
  const std::size_t limit = Histogram::index_of(histogram.max()) + 1;
  for (std::size_t index = 0; index < limit;) {
    const std::uint64_t count = histogram.count_at(index++);
    if (count != 0) {
      put_zigzag(out, static_cast<std::int64_t>(count));
      continue;
    }
    std::int64_t zeros = 1;
    for (; index < limit && histogram.count_at(index) == 0; ++index) ++zeros;
    put_zigzag(out, zeros > 1 ? -zeros : 0);
  }
  const std::size_t payload = out.size() - kHeaderSize;
  for (int i = 0; i < 4; ++i) {
    out[4 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(payload >> (8 * (3 - i)));
  }
  return out;
}

std::vector<std::uint8_t> inflate_bounded(std::span<const std::uint8_t> in) {
  z_stream stream{};
  if (inflateInit(&stream) != Z_OK) throw FormatError("zlib: inflateInit failed");
  std::vector<std::uint8_t> out(kMaxUncompressed + 1);
  stream.next_in = const_cast<Bytef*>(in.data());  // zlib's API is not const-correct
  stream.avail_in = static_cast<uInt>(in.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = inflate(&stream, Z_FINISH);
  const std::size_t produced = out.size() - stream.avail_out;
  inflateEnd(&stream);
  if (produced > kMaxUncompressed) {
    throw FormatError("HdrHistogram encoding inflates to more than a 60 s histogram can hold");
  }
  if (status != Z_STREAM_END) {
    throw FormatError(fmt::format("HdrHistogram encoding: zlib inflate failed ({})",
                                  stream.msg != nullptr ? stream.msg : "truncated"));
  }
  out.resize(produced);
  return out;
}

}  // namespace

std::vector<std::uint8_t> encode_v2_compressed(const LatencyHistogram& histogram,
                                               int compression_level) {
  const std::vector<std::uint8_t> plain = uncompressed_v2(histogram);
  uLongf deflated_size = compressBound(static_cast<uLong>(plain.size()));
  std::vector<std::uint8_t> out(8 + deflated_size);
  if (compress2(out.data() + 8, &deflated_size, plain.data(), static_cast<uLong>(plain.size()),
                compression_level) != Z_OK) {
    throw std::runtime_error("zlib: compress2 failed");
  }
  out.resize(8 + deflated_size);
  std::vector<std::uint8_t> prefix;
  put_be(prefix, kV2CompressedEncodingCookie, 4);
  put_be(prefix, deflated_size, 4);
  std::copy(prefix.begin(), prefix.end(), out.begin());
  return out;
}

std::string encode_v2_base64(const LatencyHistogram& histogram, int compression_level) {
  return base64_encode(encode_v2_compressed(histogram, compression_level));
}

LatencyHistogram decode_v2_compressed(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 8) throw FormatError("HdrHistogram encoding: shorter than its 8-byte prefix");
  const auto cookie = static_cast<std::uint32_t>(get_be(bytes, 0, 4));
  if ((cookie & kCookieBaseMask) != (kV2CompressedEncodingCookie & kCookieBaseMask)) {
    throw FormatError(fmt::format(
        "not an HdrHistogram V2 compressed histogram (cookie {:#010x}, expected {:#010x}; V0/V1 "
        "encodings and DoubleHistogram are not read)",
        cookie, kV2CompressedEncodingCookie));
  }
  const std::uint64_t deflated = get_be(bytes, 4, 4);
  if (deflated > bytes.size() - 8) {
    throw FormatError(fmt::format("HdrHistogram encoding: {} compressed bytes announced, {} there",
                                  deflated, bytes.size() - 8));
  }
  const std::vector<std::uint8_t> plain = inflate_bounded(bytes.subspan(8, deflated));
  if (plain.size() < kHeaderSize) throw FormatError("HdrHistogram encoding: header truncated");
  const auto inner_cookie = static_cast<std::uint32_t>(get_be(plain, 0, 4));
  const std::uint64_t payload = get_be(plain, 4, 4);
  const std::uint64_t offset = get_be(plain, 8, 4);
  const std::uint64_t digits = get_be(plain, 12, 4);
  const std::uint64_t lowest = get_be(plain, 16, 8);
  const std::uint64_t highest = get_be(plain, 24, 8);
  const double ratio = std::bit_cast<double>(get_be(plain, 32, 8));
  if ((inner_cookie & kCookieBaseMask) != (kV2EncodingCookie & kCookieBaseMask)) {
    throw FormatError(fmt::format("HdrHistogram encoding: inner cookie {:#010x}, expected {:#010x}",
                                  inner_cookie, kV2EncodingCookie));
  }
  if (digits != kSignificantDigits || lowest != kLowestDiscernibleValue || offset != 0 ||
      ratio != 1.0) {
    throw FormatError(fmt::format(
        "HdrHistogram layout is not muxbench's (significant digits {}, lowest discernible value "
        "{}, normalizing index offset {}, conversion ratio {}; expected 3, 1, 0, 1)",
        digits, lowest, static_cast<std::int32_t>(offset), ratio));
  }
  if (highest < 2 * lowest) {
    throw FormatError(fmt::format("HdrHistogram encoding: highest trackable value {}", highest));
  }
  if (payload > plain.size() - kHeaderSize) {
    throw FormatError(fmt::format("HdrHistogram encoding: payload of {} bytes announced, {} there",
                                  payload, plain.size() - kHeaderSize));
  }

  const std::span<const std::uint8_t> counts(plain.data() + kHeaderSize, payload);
  const std::size_t last_in_range = Histogram::index_of(Histogram::kHighestTrackable);
  nlohmann::json buckets = nlohmann::json::array();
  std::uint64_t total = 0;
  uint128 sum = 0;
  uint128 sum_of_squares = 0;
  std::uint64_t min = 0;
  std::uint64_t max = 0;
  std::size_t index = 0;
  for (std::size_t at = 0; at < counts.size();) {
    const std::int64_t count = get_zigzag(counts, at);
    if (count < 0) {
      if (count < -std::int64_t{std::numeric_limits<std::int32_t>::max()}) {
        throw FormatError("HdrHistogram payload: a run of zeros longer than 2^31 - 1");
      }
      index += static_cast<std::size_t>(-count);
      continue;
    }
    if (count > 0) {
      if (index > last_in_range) {
        throw FormatError(fmt::format(
            "HdrHistogram holds {} counts at index {} (values of {} ns and more), above muxbench's "
            "60 s range",
            count, index, index < Histogram::kBucketCount ? Histogram::lowest_in(index) : 0));
      }
      const auto n = static_cast<std::uint64_t>(count);
      const std::uint64_t low = Histogram::lowest_in(index);
      const std::uint64_t high =
          std::min(low + Histogram::width_of(index) - 1, Histogram::kHighestTrackable);
      if (total == 0) min = low;
      max = high;
      const std::uint64_t midpoint = std::min(low + Histogram::width_of(index) / 2, high);
      if (total > UINT64_MAX - n) throw FormatError("HdrHistogram payload: total count overflows");
      total += n;
      sum += uint128{n} * midpoint;
      sum_of_squares += uint128{n} * midpoint * midpoint;
      buckets.push_back({low, n});
    }
    ++index;
  }
  if (sum > UINT64_MAX) throw FormatError("HdrHistogram payload: sum of values overflows 64 bits");

  std::string squares;
  do {
    squares.insert(squares.begin(), static_cast<char>('0' + static_cast<int>(sum_of_squares % 10)));
    sum_of_squares /= 10;
  } while (sum_of_squares != 0);
  return LatencyHistogram::decode({{"format", "muxbench-loglinear-v1"},
                                   {"sub_bucket_bits", Histogram::kSubBucketBits},
                                   {"count", total},
                                   {"min", min},
                                   {"max", max},
                                   {"overflow", 0},
                                   {"sum", static_cast<std::uint64_t>(sum)},
                                   {"sum_of_squares", squares},
                                   {"buckets", buckets}});
}

LatencyHistogram decode_v2_base64(std::string_view base64) {
  return decode_v2_compressed(base64_decode(base64));
}

namespace {
constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

std::string base64_encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t group = 0;
    for (std::size_t j = 0; j < 3; ++j) group = group << 8 | (j < n ? bytes[i + j] : 0u);
    for (std::size_t j = 0; j < 4; ++j) {
      out += j <= n ? kAlphabet[(group >> (18 - 6 * j)) & 0x3f] : '=';
    }
  }
  return out;
}

std::vector<std::uint8_t> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    throw FormatError(fmt::format("base64: length {} is not a multiple of 4", text.size()));
  }
  const std::size_t padding = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  std::vector<std::uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    std::uint32_t group = 0;
    for (std::size_t j = i; j < i + 4; ++j) {
      const std::size_t digit = j < text.size() - padding ? kAlphabet.find(text[j]) : 0;
      if (digit == std::string_view::npos) {
        throw FormatError(fmt::format("base64: unexpected character at offset {}", j));
      }
      group = group << 6 | static_cast<std::uint32_t>(digit);
    }
    const std::size_t bytes = i + 4 == text.size() ? 3 - padding : 3;
    for (std::size_t j = 0; j < bytes; ++j) {
      out.push_back(static_cast<std::uint8_t>(group >> (16 - 8 * j)));
    }
  }
  return out;
}

}  // namespace muxbench::hdr
