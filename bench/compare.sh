#!/usr/bin/env bash
# Builds the release `recmon` of another commit (for before/after figures measured in the same
# run) and prints the path of that binary. The commit's tree is exported into a scratch
# directory under target/compare/ and built with its own Cargo.lock and target dir there;
# the binary is cached per commit, so a second run costs nothing.
#   bash bench/compare.sh 0e561f3        # prints target/compare/recmon-<sha>
set -euo pipefail
cd "$(dirname "$0")/.."
ref=${1:?usage: bash bench/compare.sh REF (a commit, tag or branch to build)}
sha=$(git rev-parse --verify --quiet "$ref^{commit}") || {
    echo "bench: $ref is not a commit in this repository (try a hash from git log)" >&2
    exit 2
}
short=${sha:0:12}
root=target/compare
bin=$root/recmon-$short
if [ ! -x "$bin" ]; then
    src=$root/src-$short
    rm -rf "$src"
    mkdir -p "$src"
    # An exported tree rather than `git worktree add`: nothing is registered in the
    # repository, and deleting target/ removes every trace.
    git archive "$sha" | tar -x -C "$src"
    echo "bench: building recmon at $short (release, once; cached in $bin)" >&2
    CARGO_TARGET_DIR="$PWD/$root/build" cargo build --release --locked \
        --manifest-path "$src/Cargo.toml" --bin recmon >&2
    cp "$root/build/release/recmon" "$bin.tmp"
    mv "$bin.tmp" "$bin"
    rm -rf "$src"
fi
echo "$PWD/$bin"
