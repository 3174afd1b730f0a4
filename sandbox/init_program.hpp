#pragma once
// The sandbox's init program (sandbox/init/sandbox_init.cpp, a static executable), embedded in the
// library so that no helper binary has to be found at run time.

#include <span>

namespace osprey::sandbox {

std::span<const unsigned char> init_program();

}  // namespace osprey::sandbox
