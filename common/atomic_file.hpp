#pragma once

#include <filesystem>
#include <string_view>

namespace muxbench {

// Readers never see a half-written file: the content goes to a temporary file in the same
// directory, which is then renamed over the target. Throws std::system_error on failure.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

}  // namespace muxbench
