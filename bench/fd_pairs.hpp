#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace muxbench {

enum class FdKind { kSocketPair, kTcpLoopback };
std::string_view to_string(FdKind kind);

// `count` connected pairs. The watched ends get the lowest free descriptor numbers, packed
// densely, and each peer end is moved above them: select's limit is the highest descriptor
// value (its cost follows the count), so packing lets it watch as many as FD_SETSIZE allows. Closes
// everything on destruction.
class FdPairs {
 public:
  // Throws std::system_error when the descriptors cannot be made (limit, ports).
  FdPairs(FdKind kind, std::size_t count);
  FdPairs(const FdPairs&) = delete;
  FdPairs& operator=(const FdPairs&) = delete;
  ~FdPairs();

  std::size_t size() const { return watched_.size(); }
  // The first n watched ends (ascending descriptor values).
  std::span<const int> watched(std::size_t n) const { return {watched_.data(), n}; }
  int peer(std::size_t i) const { return peers_[i]; }

 private:
  std::vector<int> watched_;
  std::vector<int> peers_;
};

// Makes the last `ready` of the first `n` watched descriptors readable (one byte from the peer)
// and drains them again on destruction, so the pairs can be reused. Last, because select and poll
// add a wait-queue entry to every descriptor they scan until they find one ready (so that they
// could sleep) and remove them all afterwards: a server whose fds are rarely ready when it calls
// pays that for all of them, and so does this benchmark. (ready = 0 with a zero timeout measures
// the scan without the entries.)
class ReadySet {
 public:
  ReadySet(const FdPairs& pairs, std::size_t n, std::size_t ready);
  ReadySet(const ReadySet&) = delete;
  ReadySet& operator=(const ReadySet&) = delete;
  ~ReadySet();
  std::span<const int> fds() const { return ready_; }
  // Reads each ready descriptor's byte and has its peer send a new one: a fresh wake-up for
  // mechanisms that report wake-ups rather than states (io_uring's multishot poll).
  void retrigger() const;

 private:
  std::vector<int> ready_;
  std::vector<int> peers_;
};

// The largest pair count whose descriptors (two per pair, plus some spare) fit under the soft
// fd limit; TCP pairs are also capped by one source address's ephemeral ports.
std::size_t max_pairs(FdKind kind, std::size_t fd_limit);

}  // namespace muxbench
