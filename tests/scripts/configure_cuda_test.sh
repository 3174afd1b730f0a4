#!/usr/bin/env bash
# Checks the OSPREY_CUDA option from outside, by configuring fresh build folders:
#  1. OSPREY_CUDA=ON with no nvcc anywhere: configure fails and the message names nvcc.
#  2. OSPREY_CUDA=ON with a CMAKE_CUDA_COMPILER that does not exist: same.
#  3. OSPREY_CUDA=AUTO with no nvcc: configure succeeds, CPU only, and says so.
# Usage: configure_cuda_test.sh CMAKE SOURCE_DIR DEPS_DIR
set -u
cmake_bin=$1 src=$2 deps=$3
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
fail=0
# A PATH with the system compilers but no CUDA folder (nor /usr/local/bin, where a wrapper may sit).
nocuda_path=/usr/bin:/bin
for d in /usr/bin /bin; do
    if [ -x "$d/nvcc" ]; then
        echo "SKIP: nvcc is installed in $d, so 'no nvcc' cannot be simulated on this machine"
        exit 77
    fi
done
configure() {  # configure NAME ARGS... ; output in $work/NAME.log
    local name=$1; shift
    env -u CUDACXX PATH="$nocuda_path" "$cmake_bin" -S "$src" -B "$work/$name" \
        -DOSPREY_DEPS_DIR="$deps" -DOSPREY_BUILD_TESTS=OFF "$@" >"$work/$name.log" 2>&1
}
expect() {  # expect DESCRIPTION COND
    if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi
}

configure on_missing -DOSPREY_CUDA=ON -DOSPREY_NVCC_HINTS=/nonexistent
rc=$?
expect "OSPREY_CUDA=ON without nvcc fails" "[ $rc -ne 0 ]"
expect "the error names nvcc" "grep -q 'OSPREY_CUDA=ON but the CUDA compiler nvcc is missing' '$work/on_missing.log'"

configure on_bad_path -DOSPREY_CUDA=ON -DCMAKE_CUDA_COMPILER=/nonexistent/bin/nvcc
rc=$?
expect "OSPREY_CUDA=ON with a missing CMAKE_CUDA_COMPILER fails" "[ $rc -ne 0 ]"
expect "that error names the path" "grep -q 'CMAKE_CUDA_COMPILER=/nonexistent/bin/nvcc does not exist' '$work/on_bad_path.log'"

configure auto_missing -DOSPREY_CUDA=AUTO -DOSPREY_NVCC_HINTS=/nonexistent
rc=$?
expect "OSPREY_CUDA=AUTO without nvcc configures" "[ $rc -eq 0 ]"
expect "and reports a CPU-only build" "grep -q 'Osprey backends: cpu (cuda: nvcc not found' '$work/auto_missing.log'"

if [ $fail -ne 0 ]; then
    for f in "$work"/*.log; do echo "--- $f"; tail -n 20 "$f"; done
fi
exit $fail
