#pragma once
// The file tools: read, write, edit, apply_patch, list, glob.

#include "tools/core/registry.hpp"

namespace osprey::tools {

void add_file_tools(Registry& registry);

}  // namespace osprey::tools
