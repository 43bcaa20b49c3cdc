#include "common/atomic_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "common/usage_error.hpp"

namespace muxbench {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

namespace {

// Writes everything and closes the descriptor, also when a write fails.
void write_then_close(int fd, std::string_view content, const std::string& what) {
  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      ::close(fd);
      errno = saved;
      throw_errno("cannot write " + what);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) throw_errno("cannot close " + what);
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  // A device or a pipe (/dev/null, /dev/stdout, a FIFO) is written in place: renaming a file over
  // it would replace the device node for every process on the machine.
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (!error && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("cannot open " + path.string());
    write_then_close(fd, content, path.string());
    return;
  }
  const std::string temp = fmt::format("{}.tmp.{}", path.string(), ::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw_errno("cannot create " + temp);
  try {
    write_then_close(fd, content, temp);
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(temp.c_str());
    errno = saved;
    throw_errno("cannot rename " + temp + " to " + path.string());
  }
}

void require_parent_directory(std::string_view option, const std::filesystem::path& path) {
  const auto directory = std::filesystem::absolute(path).parent_path();
  if (!std::filesystem::is_directory(directory)) {
    throw UsageError(fmt::format("{}: directory {} does not exist", option, directory.string()));
  }
}

}  // namespace muxbench
