#pragma once
// Whole-file reads and atomic writes (temporary file in the same folder, fsync, rename), keeping
// the mode bits of the file replaced.

#include <filesystem>
#include <string>
#include <string_view>

namespace osprey::tools {

// Throws ToolError naming the file when it cannot be read.
std::string read_file(const std::filesystem::path& path);
// Creates missing parent folders. New files get 0666 minus the umask, as an editor would make them.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

// NUL bytes in the first 8 KiB, as git and ripgrep decide.
bool looks_binary(std::string_view content);
// Byte offset of the first invalid UTF-8 sequence, or npos.
std::size_t first_invalid_utf8(std::string_view text);

}  // namespace osprey::tools
