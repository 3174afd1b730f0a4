#include "sandbox/init_program.hpp"

// OSPREY_SANDBOX_INIT_PATH is the built init program (see sandbox/CMakeLists.txt).
asm(".section .rodata\n"
    ".balign 16\n"
    "osprey_sandbox_init_begin:\n"
    ".incbin \"" OSPREY_SANDBOX_INIT_PATH
    "\"\n"
    "osprey_sandbox_init_end:\n"
    ".previous\n"
    ".section .data.rel.ro\n"
    ".balign 8\n"
    ".global osprey_sandbox_init_bounds\n"
    "osprey_sandbox_init_bounds:\n"
    ".quad osprey_sandbox_init_begin\n"
    ".quad osprey_sandbox_init_end\n"
    ".previous\n");

extern "C" const unsigned char* const osprey_sandbox_init_bounds[2];

namespace osprey::sandbox {

std::span<const unsigned char> init_program() {
    return {osprey_sandbox_init_bounds[0], osprey_sandbox_init_bounds[1]};
}

}  // namespace osprey::sandbox
