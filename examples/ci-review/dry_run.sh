#!/usr/bin/env bash
# A dry run of review.sh without weights: a tiny repository with a "pull request" commit, the
# scripted backend playing a reviewer that answers with one finding, SARIF written (no upload).
#   examples/ci-review/dry_run.sh [OSPREY]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
osprey=${1:-osprey}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
repo=$work/repo
mkdir -p "$repo"
cd "$repo"
g() { git -c user.name=ci -c user.email=ci@example.com -c init.defaultBranch=main "$@"; }
g init -q
printf 'def mean(xs):\n    return sum(xs) / len(xs)\n' >stats.py
g add -A && g commit -qm base
base=$(git rev-parse HEAD)
printf 'def mean(xs):\n    return sum(xs) / len(xs)\n\n\ndef first(xs):\n    return xs[1]\n' >stats.py
g commit -qam "add first()"
head=$(git rev-parse HEAD)
cat >"$work/script.json" <<'JSON'
["Check the new function.</think>{\"summary\": \"first() skips the first element.\", \"verdict\": \"request-changes\", \"findings\": [{\"title\": \"first() returns the second element\", \"body\": \"Index 1 is the second element; an empty or one-element list raises IndexError.\", \"severity\": \"high\", \"confidence\": 0.9, \"category\": \"bug\", \"file\": \"stats.py\", \"start_line\": 6, \"end_line\": 6, \"suggestion\": \"    return xs[0]\"}]}<｜end▁of▁sentence｜>"]
JSON
OSPREY=$osprey OSPREY_MODEL=scripted:$work/script.json OSPREY_FAIL_ON=high \
    "$here/review.sh" "$base" "$head" "$work/out.sarif" && status=0 || status=$?
python3 -c '
import json, sys
run = json.load(open(sys.argv[1]))["runs"][0]
r = run["results"][0]
loc = r["locations"][0]["physicalLocation"]
print("SARIF", r["level"], r["ruleId"], loc["artifactLocation"]["uri"], loc["region"]["startLine"], "exit", sys.argv[2])
' "$work/out.sarif" "$status"
