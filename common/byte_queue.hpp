#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace muxbench {

// The bytes a connection still owes its peer, oldest first. Consuming from the front is O(1);
// the storage is compacted on append and given back once drained, so an idle connection that
// once hit backpressure does not keep megabytes.
class ByteQueue {
 public:
  bool empty() const { return head_ == bytes_.size(); }
  std::size_t size() const { return bytes_.size() - head_; }
  std::size_t capacity() const { return bytes_.capacity(); }
  std::span<const char> front() const { return {bytes_.data() + head_, size()}; }

  void append(const char* data, std::size_t length) {
    if (head_ > 0 && head_ >= bytes_.size() / 2) {
      bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    bytes_.insert(bytes_.end(), data, data + length);
  }

  void consume(std::size_t length) {
    head_ += length;
    if (head_ < bytes_.size()) return;
    head_ = 0;
    if (bytes_.capacity() > kRetainedCapacity) {
      std::vector<char>().swap(bytes_);
    } else {
      bytes_.clear();
    }
  }

  void swap(ByteQueue& other) noexcept {
    bytes_.swap(other.bytes_);
    std::swap(head_, other.head_);
  }

 private:
  static constexpr std::size_t kRetainedCapacity = 64 * 1024;
  std::vector<char> bytes_;
  std::size_t head_ = 0;
};

}  // namespace muxbench
