// do_select (fs/select.c) walks the bitmaps a word at a time, skips words with no bit set and asks
// only the descriptors whose bits are set; core_sys_select caps nfds at the descriptor table's
// size, not at FD_SETSIZE. Zero-timeout calls on sockets with nothing to read: no wait-queue
// work, only the copy and the scan. Timed in the thread's CPU time, the median of several rounds.
#include "bench/select_cost.hpp"

#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace muxbench {
namespace {

using Json = nlohmann::json;

constexpr int kHighNumber = 1000;  // below FD_SETSIZE, so glibc's fd_set holds it
constexpr int kPastFdSetSize = 1500;
constexpr int kCallsPerRound = 1000;
constexpr int kRounds = 15;

std::int64_t thread_cpu_ns() {
  timespec now;
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return now.tv_sec * 1'000'000'000LL + now.tv_nsec;
}

// A bitmap the kernel reads like fd_set, sized for any nfds (glibc's fd_set stops at 1024).
class Bitmap {
 public:
  explicit Bitmap(int nfds) : words_((nfds + kBits - 1) / kBits, 0) {}
  void set(int fd) { words_[fd / kBits] |= 1UL << (fd % kBits); }
  bool is_set(int fd) const { return (words_[fd / kBits] >> (fd % kBits)) & 1UL; }
  fd_set* as_fd_set() { return reinterpret_cast<fd_set*>(words_.data()); }

 private:
  static constexpr int kBits = 8 * sizeof(unsigned long);
  std::vector<unsigned long> words_;
};

// CPU ns per zero-timeout select over `watched` (all below nfds), nothing readable.
double ns_per_call(const std::vector<int>& watched, int nfds) {
  Bitmap wanted(nfds);
  for (const int fd : watched) wanted.set(fd);
  std::vector<double> rounds;
  for (int round = 0; round < kRounds; ++round) {
    const std::int64_t start = thread_cpu_ns();
    for (int call = 0; call < kCallsPerRound; ++call) {
      Bitmap readable = wanted;  // select overwrites its argument, as a server's copy would be
      timeval zero{0, 0};
      if (::select(nfds, readable.as_fd_set(), nullptr, nullptr, &zero) < 0)
        throw std::runtime_error(std::string("select: ") + std::strerror(errno));
    }
    rounds.push_back(static_cast<double>(thread_cpu_ns() - start) / kCallsPerRound);
  }
  std::nth_element(rounds.begin(), rounds.begin() + kRounds / 2, rounds.end());
  return rounds[kRounds / 2];
}

// Every descriptor the measurement opens, closed together when it ends.
class Descriptors {
 public:
  Descriptors() = default;
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;
  ~Descriptors() {
    for (const int fd : fds_) ::close(fd);
  }
  // A connected socket pair, nothing to read on either end yet.
  std::pair<int, int> add_pair() {
    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, ends) != 0)
      throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
    fds_.insert(fds_.end(), {ends[0], ends[1]});
    return {ends[0], ends[1]};
  }
  void add(int fd) { fds_.push_back(fd); }

 private:
  std::vector<int> fds_;
};

// The kernel takes a bitmap past FD_SETSIZE: a readable socket numbered 1500 is reported.
Json past_fd_setsize(int readable_fd) {
  if (::dup2(readable_fd, kPastFdSetSize) < 0)
    return {{"fd", kPastFdSetSize}, {"error", std::strerror(errno)}};
  Bitmap readable(kPastFdSetSize + 1);
  readable.set(kPastFdSetSize);
  timeval zero{0, 0};
  const int ready = ::select(kPastFdSetSize + 1, readable.as_fd_set(), nullptr, nullptr, &zero);
  const bool reported = ready == 1 && readable.is_set(kPastFdSetSize);
  ::close(kPastFdSetSize);
  return {{"fd", kPastFdSetSize}, {"nfds", kPastFdSetSize + 1}, {"reported_ready", reported}};
}

}  // namespace

Json select_cost_by_number() {
  Descriptors open;
  const auto [low, writer] = open.add_pair();
  if (low >= kHighNumber || ::dup2(low, kHighNumber) < 0)
    throw std::runtime_error("select cost: cannot number a descriptor " +
                             std::to_string(kHighNumber));
  open.add(kHighNumber);
  const double one_low = ns_per_call({low}, low + 1);
  const double one_high = ns_per_call({kHighNumber}, kHighNumber + 1);
  // Every number below kHighNumber this process can still open, as socket-pair ends.
  std::vector<int> many = {kHighNumber};
  for (auto pair = open.add_pair(); pair.second < kHighNumber; pair = open.add_pair())
    many.insert(many.end(), {pair.first, pair.second});
  const double all = ns_per_call(many, kHighNumber + 1);
  const char byte = 'x';
  Json past;
  if (::write(writer, &byte, 1) == 1) past = past_fd_setsize(low);
  const int unused_numbers = kHighNumber - low;
  const auto more_watched = static_cast<double>(many.size() - 1);
  return {
      {"calls_per_round", kCallsPerRound},
      {"rounds", kRounds},
      {"one_fd_low", {{"fd", low}, {"nfds", low + 1}, {"ns_per_call", one_low}}},
      {"one_fd_high", {{"fd", kHighNumber}, {"nfds", kHighNumber + 1}, {"ns_per_call", one_high}}},
      {"many_fds", {{"watched", many.size()}, {"nfds", kHighNumber + 1}, {"ns_per_call", all}}},
      {"ns_per_unused_number", (one_high - one_low) / unused_numbers},
      {"ns_per_watched_fd", (all - one_high) / more_watched},
      {"past_fd_setsize", past}};
}

}  // namespace muxbench
