#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace muxbench {

// Where an output option writes, checked before any measurement so that a long run never ends
// with nowhere to put its results. "-" is standard output. Otherwise the file is replaced
// atomically (a temporary file in the same directory, then rename), so the directory must exist
// and take new files, and the path must not be a directory.
class OutputPath {
 public:
  // Throws UsageError naming the option and the reason.
  static OutputPath checked(std::string_view option, std::string path);

  bool is_stdout() const { return path_ == "-"; }
  const std::string& path() const { return path_; }

  // Writes the whole content; on failure returns what failed, with the path and the errno text.
  [[nodiscard]] std::optional<std::string> write(std::string_view content) const;

 private:
  explicit OutputPath(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Two options naming one file would overwrite each other (standard output may be shared only by
// nothing else either). Throws UsageError naming both options. Unset options are skipped.
void refuse_shared_outputs(
    const std::vector<std::pair<std::string_view, std::optional<std::string>>>& outputs);

}  // namespace muxbench
