#pragma once

#include <filesystem>
#include <optional>

namespace muxbench {

// An exclusive lock on a directory (flock on DIR/.lock), held for the object's lifetime: two runs
// writing one results directory, pinned to the same CPUs, would corrupt each other's files and
// numbers. The kernel drops the lock when the process dies, so a crash never leaves it stale.
class DirectoryLock {
 public:
  // nullopt when another process holds it; throws std::system_error when the lock file cannot be
  // opened.
  static std::optional<DirectoryLock> try_acquire(const std::filesystem::path& directory);

  DirectoryLock(DirectoryLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DirectoryLock& operator=(DirectoryLock&&) = delete;
  DirectoryLock(const DirectoryLock&) = delete;
  ~DirectoryLock();

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace muxbench
