#!/usr/bin/env bash
# Peak resident memory of the whole process while it ingests a generated chat_1 answer
# through the full pipeline: a loopback upstream generating the answer as it sends it,
# the API client's streaming decoder, and the collector.
#
#   scripts/peak-rss.sh [records] [calls]     # defaults: 60000 records, 1 call
#   scripts/peak-rss.sh backfill [days] [records per day] [format]   # defaults: 30 days of 20000, blocks
#   scripts/peak-rss.sh realtime [open chats] [messages each]          # defaults: 5000 chats of 20 messages
#
# It needs GNU time's /usr/bin/time; on Debian it installs the "time" package when it
# is missing (as root, like .ci/run does for Prometheus).
set -euo pipefail
cd "$(dirname "$0")/.."

args=(-records "${1:-60000}" -calls "${2:-1}")
if [ "${1:-}" = backfill ]; then
  args=(-backfill-days "${2:-30}" -records "${3:-20000}" -format "${4:-blocks}")
elif [ "${1:-}" = realtime ]; then
  args=(-open-chats "${2:-5000}" -messages "${3:-20}")
fi

if [ ! -x /usr/bin/time ]; then
  echo "--- installing GNU time (Debian package)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time >/dev/null
fi

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/peakrss" ./cmd/peakrss
if ! /usr/bin/time -v "$dir/peakrss" "${args[@]}" 2>"$dir/time.txt"; then
  cat "$dir/time.txt" >&2
  exit 1
fi
grep -E "Maximum resident set size|Elapsed \(wall clock\)" "$dir/time.txt" | sed 's/^[[:space:]]*//'
