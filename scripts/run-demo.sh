#!/usr/bin/env bash
# The `make run` demo: start the Salesforce emulator generating events on one
# channel of each kind, wait for its ready line, then run the demo pipeline
# in the foreground. Ctrl-C (or the pipeline exiting) stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

addr="${1:-127.0.0.1:7357}"
data="${SALESFORCE_STREAMING_DATA_DIR:-./data}"

# The emulator keeps its events in memory: a new one knows none of the replay
# ids an earlier demo stored, and Salesforce would answer each with "replayId
# ... was invalid". Start the demo's channels afresh instead.
rm -f "$data/replay_ids/demo:"*
ready="$(mktemp)"
cleanup() { kill "${emu_pid:-0}" 2>/dev/null || true; wait 2>/dev/null || true; rm -f "$ready"; }
trap cleanup EXIT
# Ctrl-C reaches the foreground process group: bin/benthos stops first (it
# flushes its checkpoints); the emulator, in its own session, is stopped by
# the EXIT trap after that.
trap ':' INT TERM

setsid bin/sfemu -addr "$addr" \
	-generate /event/Order__e=5 \
	-generate /data/AccountChangeEvent=5 \
	-generate /topic/InvoiceUpdates=2 \
	-generate /u/Alerts=1 >"$ready" &
emu_pid=$!

for _ in $(seq 1 50); do
	grep -q '^sfemu listening on ' "$ready" && break
	kill -0 "$emu_pid" 2>/dev/null || { echo "sfemu exited before it was ready" >&2; exit 1; }
	sleep 0.1
done
url="$(sed -n 's/^sfemu listening on //p' "$ready")"
[ -n "$url" ] || { echo "sfemu did not print its ready line" >&2; exit 1; }
echo "sfemu is generating events at $url; streaming them through bin/benthos (Ctrl-C stops)" >&2

SF_ORG_URL="$url" bin/benthos -r resources/replay_ids_file.yaml -c config/demo.yaml
