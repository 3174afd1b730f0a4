# Third-party libraries, all from Debian 12 packages (scripts/setup installs them). Each failure names
# the package that provides the missing piece.
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
    message(FATAL_ERROR "pkg-config is missing: install the Debian package pkg-config (scripts/setup does)")
endif()
find_package(Threads REQUIRED)

macro(osprey_require_package var package)
    if(NOT ${var})
        message(FATAL_ERROR "${ARGN} not found: install the Debian package ${package} (scripts/setup does)")
    endif()
endmacro()

find_package(Boost 1.74)
osprey_require_package(Boost_FOUND libboost-dev "Boost headers (Asio, Beast) 1.74+")
find_package(nlohmann_json 3.11)
osprey_require_package(nlohmann_json_FOUND nlohmann-json3-dev "nlohmann/json 3.11+")
find_package(SQLite3)
osprey_require_package(SQLite3_FOUND libsqlite3-dev "SQLite 3")
pkg_check_modules(GIT2 IMPORTED_TARGET libgit2>=1.5)
osprey_require_package(GIT2_FOUND libgit2-dev "libgit2 1.5+")
# PCRE2 (8-bit, with JIT): the tokenizer's pre-tokenizer regexes and the grep tool.
pkg_check_modules(PCRE2 IMPORTED_TARGET libpcre2-8>=10.34)
osprey_require_package(PCRE2_FOUND libpcre2-dev "PCRE2 10.34+ (8-bit)")
# Debian's tree-sitter.pc claims version 0.6.3 for runtime 0.20.7: do not version-check it.
pkg_check_modules(TREE_SITTER IMPORTED_TARGET tree-sitter)
osprey_require_package(TREE_SITTER_FOUND libtree-sitter-dev "The tree-sitter runtime")
pkg_check_modules(SECCOMP IMPORTED_TARGET libseccomp>=2.5)
osprey_require_package(SECCOMP_FOUND libseccomp-dev "libseccomp 2.5+ (the sandbox's system-call filter)")
pkg_check_modules(LIBEDIT IMPORTED_TARGET libedit)
osprey_require_package(LIBEDIT_FOUND libedit-dev "libedit (the interactive terminal's line editor)")

if(OSPREY_BUILD_TESTS)
    find_package(Catch2 2.13)
    osprey_require_package(Catch2_FOUND catch2 "Catch2 v2.13")
    include(Catch)
endif()
