#!/usr/bin/env bash
# With the CUDA backend on, every .cu file is compiled for each arch in OSPREY_CUDA_ARCHITECTURES
# (default 80;90a): checks the nvcc command lines recorded in compile_commands.json.
# Usage: cuda_gencode_test.sh COMPILE_COMMANDS_JSON WITH_CUDA ARCHS
set -u
db=$1 with_cuda=$2 archs=$3
case "$with_cuda" in
    ON|1|TRUE) ;;
    *) echo "SKIP: this build has no CUDA backend (configure with -DOSPREY_CUDA=ON)"; exit 77 ;;
esac
[ -f "$db" ] || { echo "FAIL: $db missing"; exit 1; }
cu_lines=$(grep -E '"command": .*nvcc.*\.cu"?' "$db")
[ -n "$cu_lines" ] || { echo "FAIL: no nvcc command in $db"; exit 1; }
fail=0
IFS=';' read -r -a arch_list <<<"$archs"
for arch in "${arch_list[@]}"; do
    arch=${arch%-real}; arch=${arch%-virtual}
    if grep -q -- "arch=compute_${arch},code=\[\?[^]]*sm_${arch}" <<<"$cu_lines"; then
        echo "ok: nvcc generates sm_${arch}"
    else
        echo "FAIL: nvcc is not asked for sm_${arch}"; fail=1
    fi
done
exit $fail
