#!/usr/bin/env bash
# Runs every fuzz target of cos-sign in turn, each for a fixed time, starting from the
# committed seeds. Usage: run.sh [seconds per target, default 120] [target ...]
#
# libFuzzer needs unstable compiler flags; on a stable toolchain RUSTC_BOOTSTRAP=1 unlocks
# them. A crash leaves its input under artifacts/<target>/ and stops the run with a
# non-zero status: copy it to regressions/<target>/ (replayed here first, and by
# ../tests/fuzz_regressions.rs) and add a named case to that test file.
set -euo pipefail

cd "$(dirname "$0")"
seconds="${1:-120}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(authorization_parse verify_query v4_token post_policy)
fi

if ! command -v cargo-fuzz >/dev/null; then
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2
    exit 1
fi

export RUSTC_BOOTSTRAP=1
cargo fuzz build
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "regressions/$target"
    echo "== $target: ${seconds}s"
    cargo fuzz run "$target" "corpus/$target" "seeds/$target" "regressions/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1
done
