#!/usr/bin/env bash
# Stops the servers scripts/models/start.sh started (by process id).
set -euo pipefail
source "$(dirname "$0")/common.sh"
for name in embeddings llm; do
  pidfile="$RUN_DIR/$name.pid"
  [[ -f "$pidfile" ]] || continue
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null || true
    echo "$name stopped (pid $pid)"
  fi
  rm -f "$pidfile"
done
