#!/usr/bin/env bash
# Builds and tests detseg in every configuration: bash scripts/test.sh
# DETSEG_TEST_CONFIGS selects a subset, e.g. DETSEG_TEST_CONFIGS="gcc asan".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/require-packages.sh
require_packages cmake ninja-build g++ clang libomp-dev libclang-rt-14-dev doctest-dev \
    libeigen3-dev xtensor-dev libsimdjson-dev libpng-dev libbenchmark-dev pkg-config python3
require_cmake_workflow

export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
export CTEST_PARALLEL_LEVEL="${CTEST_PARALLEL_LEVEL:-$(nproc)}"

read -r -a configs <<<"${DETSEG_TEST_CONFIGS:-gcc clang asan}"
for config in "${configs[@]}"; do
    case "$config" in
        gcc | clang | asan) ;;
        *)
            echo "unknown configuration '$config' (known: gcc clang asan)" >&2
            exit 2
            ;;
    esac
done

results=()
failed=0
for config in "${configs[@]}"; do
    echo
    echo "=================================================================="
    echo "== detseg: test-$config"
    echo "=================================================================="
    start=$SECONDS
    if cmake --workflow --preset "test-$config"; then
        results+=("$config passed ($((SECONDS - start))s)")
    else
        results+=("$config FAILED ($((SECONDS - start))s)")
        failed=1
    fi
done

echo
summary="$(printf '%s, ' "${results[@]}")"
if ((failed)); then
    echo "detseg tests FAILED: ${summary%, }"
else
    echo "detseg tests passed: ${summary%, }"
fi
exit "$failed"
