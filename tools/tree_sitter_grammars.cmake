# Builds each npm-fetched tree-sitter grammar (unpacked by scripts/setup into
# ${OSPREY_DEPS_DIR}/npm/<package>/) into its own static library, without project warnings or
# sanitizers: it is generated code. Defines OSPREY_GRAMMAR_TARGETS.
# Entries: <language>|<npm package>|<folder holding parser.c inside the package>
set(_osprey_grammars
    "c|tree-sitter-c|src"
    "cpp|tree-sitter-cpp|src"
    "python|tree-sitter-python|src"
    "javascript|tree-sitter-javascript|src"
    "typescript|tree-sitter-typescript|typescript/src"
    "tsx|tree-sitter-typescript|tsx/src"
    "go|tree-sitter-go|src"
    "rust|tree-sitter-rust|src"
    "java|tree-sitter-java|src")

set(OSPREY_GRAMMAR_TARGETS "")
foreach(_entry IN LISTS _osprey_grammars)
    string(REPLACE "|" ";" _fields "${_entry}")
    list(GET _fields 0 _lang)
    list(GET _fields 1 _package)
    list(GET _fields 2 _subdir)
    set(_src "${OSPREY_DEPS_DIR}/npm/${_package}/${_subdir}")
    if(NOT EXISTS "${_src}/parser.c")
        message(FATAL_ERROR "tree-sitter grammar '${_lang}' is missing: ${_src}/parser.c does not "
                            "exist. Run scripts/setup (it fetches the pinned npm package ${_package}).")
    endif()
    set(_files "${_src}/parser.c")
    if(EXISTS "${_src}/scanner.c")
        list(APPEND _files "${_src}/scanner.c")
    endif()
    set(_target osprey_grammar_${_lang})
    add_library(${_target} STATIC ${_files})
    # The grammar's own tree_sitter/parser.h, not the system one; -O2 even in debug builds (the
    # generated tables are huge and slow unoptimised).
    target_include_directories(${_target} PRIVATE "${_src}")
    target_compile_options(${_target} PRIVATE -O2 -w)
    set_target_properties(${_target} PROPERTIES C_STANDARD 11 POSITION_INDEPENDENT_CODE ON)
    list(APPEND OSPREY_GRAMMAR_TARGETS ${_target})
endforeach()
