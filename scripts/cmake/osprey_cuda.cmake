# Decides whether the CUDA backend is built: OSPREY_CUDA = AUTO (on when nvcc is found) | ON | OFF.
# Sets OSPREY_WITH_CUDA, OSPREY_CUDA_ARCH_NAMES (e.g. sm_80;sm_90a) and, when off, OSPREY_CUDA_OFF_REASON.
set(OSPREY_CUDA AUTO CACHE STRING "Build the CUDA backend: AUTO (when nvcc is found), ON or OFF")
set_property(CACHE OSPREY_CUDA PROPERTY STRINGS AUTO ON OFF)
set(OSPREY_NVCC_HINTS "/usr/local/cuda/bin" CACHE STRING
    "Folders searched for nvcc after CUDACXX and PATH")
# sm_80 (A100) and sm_90a (H100/H200, with the wgmma/TMA features the 'a' suffix unlocks).
set(OSPREY_CUDA_ARCHITECTURES "80;90a" CACHE STRING "CUDA architectures the kernels are built for")

string(TOUPPER "${OSPREY_CUDA}" _osprey_cuda_mode)
if(NOT _osprey_cuda_mode MATCHES "^(AUTO|ON|OFF)$")
    message(FATAL_ERROR "OSPREY_CUDA must be AUTO, ON or OFF (got '${OSPREY_CUDA}')")
endif()

set(OSPREY_WITH_CUDA OFF)
set(OSPREY_CUDA_OFF_REASON "")
set(OSPREY_CUDA_ARCH_NAMES "")

if(_osprey_cuda_mode STREQUAL "OFF")
    set(OSPREY_CUDA_OFF_REASON "disabled with -DOSPREY_CUDA=OFF")
else()
    # Find nvcc ourselves so the error names it and so the search is predictable: an explicit
    # CMAKE_CUDA_COMPILER, then $CUDACXX, then PATH, then OSPREY_NVCC_HINTS.
    set(_osprey_nvcc "")
    if(CMAKE_CUDA_COMPILER)
        if(EXISTS "${CMAKE_CUDA_COMPILER}")
            set(_osprey_nvcc "${CMAKE_CUDA_COMPILER}")
        else()
            set(_osprey_nvcc_missing "CMAKE_CUDA_COMPILER=${CMAKE_CUDA_COMPILER} does not exist")
        endif()
    elseif(DEFINED ENV{CUDACXX} AND NOT "$ENV{CUDACXX}" STREQUAL "")
        if(EXISTS "$ENV{CUDACXX}")
            set(_osprey_nvcc "$ENV{CUDACXX}")
        else()
            set(_osprey_nvcc_missing "CUDACXX=$ENV{CUDACXX} does not exist")
        endif()
    else()
        # Only PATH and the hints, not CMake's system prefixes: the search is exactly what we document.
        find_program(_osprey_nvcc_found nvcc HINTS ${OSPREY_NVCC_HINTS} NO_CACHE
                     NO_CMAKE_SYSTEM_PATH NO_CMAKE_INSTALL_PREFIX)
        if(_osprey_nvcc_found)
            set(_osprey_nvcc "${_osprey_nvcc_found}")
        else()
            string(REPLACE ";" ", " _hints "${OSPREY_NVCC_HINTS}")
            set(_osprey_nvcc_missing "nvcc not found on PATH or in ${_hints}")
        endif()
    endif()

    if(_osprey_nvcc STREQUAL "")
        if(_osprey_cuda_mode STREQUAL "ON")
            message(FATAL_ERROR
                "OSPREY_CUDA=ON but the CUDA compiler nvcc is missing (${_osprey_nvcc_missing}). "
                "Install the CUDA toolkit (nvcc + cuBLASLt), pass -DCMAKE_CUDA_COMPILER=/path/to/nvcc, "
                "or configure with -DOSPREY_CUDA=OFF for a CPU-only build.")
        endif()
        set(OSPREY_CUDA_OFF_REASON "${_osprey_nvcc_missing}; configure with -DOSPREY_CUDA=ON to require it")
    else()
        set(CMAKE_CUDA_COMPILER "${_osprey_nvcc}")
        set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
        set(CMAKE_CUDA_ARCHITECTURES "${OSPREY_CUDA_ARCHITECTURES}")
        enable_language(CUDA)
        find_package(CUDAToolkit REQUIRED)
        if(NOT TARGET CUDA::cublasLt)
            message(FATAL_ERROR "nvcc found at ${_osprey_nvcc} but cuBLASLt is missing from the toolkit")
        endif()
        set(OSPREY_WITH_CUDA ON)
        foreach(_arch IN LISTS OSPREY_CUDA_ARCHITECTURES)
            string(REGEX REPLACE "-(real|virtual)$" "" _arch "${_arch}")
            list(APPEND OSPREY_CUDA_ARCH_NAMES "sm_${_arch}")
        endforeach()
    endif()
endif()
