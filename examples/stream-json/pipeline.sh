#!/usr/bin/env bash
# `osprey run --output stream-json` in a shell pipeline: one JSON event per line (docs/events.md),
# filtered with jq into a live log of tool calls and results and a final usage line.
#   examples/stream-json/pipeline.sh [path/to/osprey]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
osprey=${1:-${OSPREY:-osprey}}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$here/../scripted-bugfix/repo" "$work/repo"
(cd "$work/repo" && git init -q && git add -A &&
    git -c user.name=demo -c user.email=demo@example.com commit -qm "buggy mean")
"$osprey" run --output stream-json --model "scripted:$here/../scripted-bugfix/script.json" \
    --cwd "$work/repo" --data-dir "$work/data" --permission auto \
    "bash test.sh fails; find and fix the bug." |
    jq -r --unbuffered '
      if .type == "tool.call" then "call   \(.call_id) \(.name) \(.arguments | tojson)"
      elif .type == "tool.result" then "result \(.call_id) \(.status) (\(.duration_ms) ms)"
      elif .type == "usage" then "step \(.step): +\(.prompt_tokens) prompt, \(.decoded_tokens) decoded, \(.reused_tokens) reused"
      elif .type == "session.completed" then "done: \(.exit_reason), \(.steps) steps, context \(.context_tokens) tokens\n\(.final_text)"
      else empty end'
