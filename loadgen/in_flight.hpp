#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace muxbench {

struct InFlight {
  std::uint64_t sequence;
  std::int64_t sent_ns;  // intended send time in open loop, actual send time in closed loop
};

// FIFO of the messages a connection awaits, in send order (TCP echoes them back in order).
// A power-of-two ring: no allocation once it has grown to the connection's depth.
class InFlightQueue {
 public:
  bool empty() const { return head_ == tail_; }
  std::size_t size() const { return static_cast<std::size_t>(tail_ - head_); }
  const InFlight& front() const { return slots_[head_ & mask_]; }
  void pop() { ++head_; }

  void push(const InFlight& item) {
    if (size() == slots_.size()) grow();
    slots_[tail_++ & mask_] = item;
  }

 private:
  void grow() {
    std::vector<InFlight> bigger(slots_.empty() ? 4 : slots_.size() * 2);
    for (std::size_t i = 0; i < size(); ++i) bigger[i] = slots_[(head_ + i) & mask_];
    tail_ = size();
    head_ = 0;
    slots_.swap(bigger);
    mask_ = slots_.size() - 1;
  }

  std::vector<InFlight> slots_;
  std::size_t mask_ = 0;
  std::uint64_t head_ = 0;
  std::uint64_t tail_ = 0;
};

}  // namespace muxbench
