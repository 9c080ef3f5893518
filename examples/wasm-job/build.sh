#!/bin/sh
# Build the compute job to wasm32-wasi (and natively, for comparison).
set -e
cd "$(dirname "$0")"
clang --target=wasm32-wasi -O2 -o nbody.wasm nbody.c
echo "built $(pwd)/nbody.wasm sha256=$(sha256sum nbody.wasm | cut -d' ' -f1)"
