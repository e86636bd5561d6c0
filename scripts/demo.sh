#!/usr/bin/env bash
# Builds the examples and the detseg tool in Release and runs each of them: bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/require-packages.sh
require_packages cmake ninja-build g++ libsimdjson-dev libpng-dev
require_cmake_workflow

export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
cmake --workflow --preset demo

mapfile -t examples < <(find build/demo/examples -maxdepth 1 -type f -name 'example_*' -perm -u+x | sort)
if ((${#examples[@]} == 0)); then
    echo "no examples were built (examples/<name>/main.cpp or examples/<name>.cpp)" >&2
    exit 1
fi

export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}"
for example in "${examples[@]}"; do
    name="$(basename "$example")"
    echo
    echo "=================================================================="
    echo "== ${name#example_}"
    echo "=================================================================="
    "$example"
done

# The command-line tool on a COCO reference set (tests/data/coco, copied from the shared data).
echo
echo "=================================================================="
echo "== detseg eval coco"
echo "=================================================================="
coco=tests/data/coco
if [[ -f "$coco/public300_s1_gt.json" ]]; then
    build/demo/apps/detseg eval coco --gt "$coco/public300_s1_gt.json" \
        --dt "$coco/public300_s1_dt_bbox.json" --per-class
else
    build/demo/apps/detseg --help
    echo "($coco not found: detseg eval coco not run)"
fi
echo
echo "detseg demo: ran ${#examples[@]} examples and the detseg tool"
