#!/usr/bin/env bash
# Runs the cargo-fuzz targets (WhatsApp parser, Messenger parser, signature
# check) for a bounded time each, starting from the seed corpus kept in
# fuzz/corpus/ (real Meta payloads). New inputs go to fuzz/work/<target>
# (ignored by git), which later runs start from too.
#
#   scripts/fuzz.sh            # 60 s per target (what .ci/run does)
#   scripts/fuzz.sh 600        # the documented long run: 10 minutes per target
#
# A crash leaves its input under fuzz/artifacts/<target>/ and fails the run.
# cargo-fuzz drives libFuzzer through unstable rustc flags; RUSTC_BOOTSTRAP
# lets this machine's stable toolchain accept them. No sanitizer: the code
# is safe Rust, and what is looked for is a panic.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1
for target in whatsapp messenger signature; do
  echo "== fuzz $target for ${seconds}s"
  mkdir -p "fuzz/work/$target"
  cargo fuzz run --fuzz-dir fuzz --sanitizer none "$target" "fuzz/work/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -print_final_stats=1
done
