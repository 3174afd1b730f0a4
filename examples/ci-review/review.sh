#!/usr/bin/env bash
# Reviews a pull request's range with `osprey review` and uploads the SARIF to GitHub code scanning.
#
#   examples/ci-review/review.sh BASE HEAD [OUT.sarif]
#
# BASE and HEAD are commits (a pull request's base branch and head). The review covers what HEAD
# adds since their merge base (--range BASE...HEAD). Environment:
#   OSPREY          the osprey binary (default: osprey on PATH)
#   OSPREY_MODEL    a model folder (or scripted:FILE for a dry run without weights) — required
#   OSPREY_SEED     sampling seed (default 1: the same PR gives the same findings)
#   OSPREY_FAIL_ON  exit 1 when a finding is at or above this level (default: none)
#   GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_REF   when all set, the SARIF is uploaded through the
#                   code-scanning REST API (in GitHub Actions prefer the workflow beside this
#                   script, which uses github/codeql-action/upload-sarif).
# Exit: osprey review's (0 clean, 1 findings at/above OSPREY_FAIL_ON, 2 usage), after the upload.
set -uo pipefail

base=${1:?usage: review.sh BASE HEAD [OUT.sarif]}
head=${2:?usage: review.sh BASE HEAD [OUT.sarif]}
out=${3:-osprey-review.sarif}
osprey=${OSPREY:-osprey}
model=${OSPREY_MODEL:?set OSPREY_MODEL to a model folder}

"$osprey" review --range "$base...$head" --format sarif --output "$out" \
    --model "$model" --seed "${OSPREY_SEED:-1}" --fail-on "${OSPREY_FAIL_ON:-none}"
status=$?
if [ "$status" -ge 2 ] || [ ! -f "$out" ]; then
    echo "review.sh: osprey review failed (exit $status)" >&2
    exit "$status"
fi

if [ -n "${GITHUB_TOKEN:-}" ] && [ -n "${GITHUB_REPOSITORY:-}" ] && [ -n "${GITHUB_REF:-}" ]; then
    commit=$(git rev-parse "$head")
    payload=$(mktemp)
    trap 'rm -f "$payload"' EXIT
    printf '{"commit_sha":"%s","ref":"%s","tool_name":"osprey-review","sarif":"%s"}' \
        "$commit" "$GITHUB_REF" "$(gzip -c "$out" | base64 -w0)" >"$payload"
    curl -fsS -X POST \
        -H "Authorization: Bearer $GITHUB_TOKEN" \
        -H "Accept: application/vnd.github+json" \
        "${GITHUB_API_URL:-https://api.github.com}/repos/$GITHUB_REPOSITORY/code-scanning/sarifs" \
        --data @"$payload" >/dev/null || { echo "review.sh: SARIF upload failed" >&2; exit 1; }
    echo "review.sh: uploaded $out for $commit" >&2
else
    echo "review.sh: wrote $out (set GITHUB_TOKEN, GITHUB_REPOSITORY and GITHUB_REF to upload)" >&2
fi
exit "$status"
