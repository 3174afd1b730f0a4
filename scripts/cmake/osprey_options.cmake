# osprey_options: what every project target (layers, tests, executable) compiles with: the repository
# root on the include path (includes read "model/config.hpp"), strict warnings, optional sanitizers.
# Generated code (tree-sitter grammars) never links it.
add_library(osprey_options INTERFACE)
target_include_directories(osprey_options INTERFACE "${PROJECT_SOURCE_DIR}")
target_compile_options(osprey_options INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Werror>
    $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20 -Werror=all-warnings -Xcompiler=-Wall,-Wextra>)
# g++ 12 at -O2/-O3 reports -Wrestrict on plain `"text" + std::string` (GCC bug 105329): a false
# positive on correct code, so the warning is off for g++ < 13 only.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(osprey_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Wno-restrict>)
endif()

if(OSPREY_SANITIZE)
    set(_osprey_san -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
    target_compile_options(osprey_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:${_osprey_san}>)
    target_link_options(osprey_options INTERFACE ${_osprey_san})
endif()

# osprey_add_layer(NAME SOURCES... [DEPENDS targets...]): one folder = one library target.
function(osprey_add_layer name)
    cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS;PRIVATE_DEPENDS" ${ARGN})
    add_library(${name} STATIC ${ARG_SOURCES})
    target_link_libraries(${name} PUBLIC osprey_options ${ARG_DEPENDS} PRIVATE ${ARG_PRIVATE_DEPENDS})
endfunction()
