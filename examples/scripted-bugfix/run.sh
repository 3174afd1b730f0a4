#!/usr/bin/env bash
# Scripted-backend demo: the agent runs the tests, reads the code, fixes an off-by-one and re-runs
# the tests, end to end through `osprey run` (no model weights: --model scripted:FILE plays back
# the turns in script.json through the real tokenizer, parser and tool loop).
#   examples/scripted-bugfix/run.sh [path/to/osprey]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
osprey=${1:-${OSPREY:-osprey}}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$here/repo" "$work/repo"
(cd "$work/repo" && git init -q && git add -A &&
    git -c user.name=demo -c user.email=demo@example.com commit -qm "buggy mean")
"$osprey" run --model "scripted:$here/script.json" --cwd "$work/repo" --data-dir "$work/data" \
    --permission auto "bash test.sh fails; find and fix the bug."
echo "--- the fix:"
git -C "$work/repo" diff
(cd "$work/repo" && bash test.sh)
