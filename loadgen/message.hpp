#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace muxbench {

// One load-generator message, echoed verbatim by the server:
//   bytes 0-3   connection id (host order: only this process reads it back)
//   bytes 4-11  sequence number on that connection
//   bytes 12-   a fixed filler pattern
// so a corrupted, reordered, foreign or shifted echo is detected with one memcmp.
class MessageFormat {
 public:
  static constexpr std::size_t kHeaderSize = 12;
  static constexpr std::size_t kMinSize = 16;

  explicit MessageFormat(std::size_t size) : bytes_(size) {
    for (std::size_t i = kHeaderSize; i < size; ++i) {
      bytes_[i] = static_cast<char>((i * 131 + 7) ^ (i >> 8));
    }
  }

  std::size_t size() const { return bytes_.size(); }

  // A sender fills its buffer once and then only stamps each message's header: a large message
  // is not copied again for every send.
  void fill(char* out) const { std::memcpy(out, bytes_.data(), bytes_.size()); }
  static void stamp(std::uint32_t connection, std::uint64_t sequence, char* out) {
    std::memcpy(out, &connection, sizeof connection);
    std::memcpy(out + 4, &sequence, sizeof sequence);
  }

  bool matches(const char* data, std::uint32_t connection, std::uint64_t sequence) const {
    std::uint32_t got_connection;
    std::uint64_t got_sequence;
    std::memcpy(&got_connection, data, sizeof got_connection);
    std::memcpy(&got_sequence, data + 4, sizeof got_sequence);
    return got_connection == connection && got_sequence == sequence &&
           std::memcmp(data + kHeaderSize, bytes_.data() + kHeaderSize,
                       bytes_.size() - kHeaderSize) == 0;
  }

 private:
  std::vector<char> bytes_;
};

}  // namespace muxbench
