#pragma once

#include <filesystem>
#include <string_view>

namespace muxbench {

// Readers never see a half-written file: the content goes to a temporary file in the same
// directory, which is then renamed over the target. Throws std::system_error on failure.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

// Checked before a long run rather than after it: throws UsageError naming the option when the
// directory that would hold `path` does not exist.
void require_parent_directory(std::string_view option, const std::filesystem::path& path);

}  // namespace muxbench
