#include "common/output_path.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "common/atomic_file.hpp"
#include "common/usage_error.hpp"

namespace muxbench {
namespace fs = std::filesystem;

OutputPath OutputPath::checked(std::string_view option, std::string path) {
  if (path.empty()) throw UsageError(fmt::format("{}: empty path", option));
  if (path == "-") return OutputPath(std::move(path));
  std::error_code error;
  if (fs::is_directory(path, error)) {
    throw UsageError(fmt::format("{} {}: is a directory", option, path));
  }
  if (fs::exists(path, error) && !fs::is_regular_file(path, error)) {
    // A device or a pipe (/dev/null, /dev/stdout) is written in place: it must open for writing.
    const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      throw UsageError(fmt::format("{} {}: cannot write: {}", option, path, std::strerror(errno)));
    }
    ::close(fd);
    return OutputPath(std::move(path));
  }
  const fs::path directory = fs::absolute(path).parent_path();
  if (!fs::is_directory(directory, error)) {
    throw UsageError(
        fmt::format("{} {}: directory {} does not exist", option, path, directory.string()));
  }
  // The same operation the final write does: create a file beside the target.
  const std::string probe = fmt::format("{}.check.{}", path, ::getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw UsageError(fmt::format("{} {}: cannot write in {}: {}", option, path, directory.string(),
                                 std::strerror(errno)));
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return OutputPath(std::move(path));
}

std::optional<std::string> OutputPath::write(std::string_view content) const {
  if (is_stdout()) {
    const bool written = std::fwrite(content.data(), 1, content.size(), stdout) == content.size();
    if (std::fflush(stdout) != 0 || !written || std::ferror(stdout)) {
      return fmt::format("cannot write to standard output: {}", std::strerror(errno));
    }
    return std::nullopt;
  }
  try {
    write_file_atomically(path_, content);
  } catch (const std::system_error& error) {
    return fmt::format("{}: {}", path_, error.what());
  }
  return std::nullopt;
}

void refuse_shared_outputs(
    const std::vector<std::pair<std::string_view, std::optional<std::string>>>& outputs) {
  const auto same = [](const std::string& a, const std::string& b) {
    if (a == "-" || b == "-") return a == b;
    std::error_code error;
    return fs::weakly_canonical(a, error) == fs::weakly_canonical(b, error);
  };
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    for (std::size_t k = i + 1; k < outputs.size(); ++k) {
      const auto& [first_option, first] = outputs[i];
      const auto& [second_option, second] = outputs[k];
      if (first && second && same(*first, *second)) {
        throw UsageError(fmt::format("{} and {} both write {}: give each its own file",
                                     first_option, second_option, *first));
      }
    }
  }
}

}  // namespace muxbench
