#!/bin/sh
# Build the WAGI example to wasm32-wasi with Debian's clang + wasi-libc.
set -e
cd "$(dirname "$0")"
clang --target=wasm32-wasi -O2 -o hello.wasm hello.c
echo "built $(pwd)/hello.wasm sha256=$(sha256sum hello.wasm | cut -d' ' -f1)"
