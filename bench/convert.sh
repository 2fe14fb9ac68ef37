#!/usr/bin/env bash
# Conversion benchmark: the `full` synthetic checkpoint (about 11.5 GB BF16, sharded) converted at
# tp 1 and at tp 2 x pp 2, beside `cp -r` of the same input in the same run; peak RSS of each.
#   bash bench/convert.sh [RUNS] [WORKDIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${1:-3}"; work="${2:-$root/bench/out}"
mkdir -p "$work"
"$root/bin/higgs-trt" --version >/dev/null   # builds the CLI once; then run its jar directly
java="$(ls -d /usr/lib/jvm/*25*/bin/java 2>/dev/null | head -1)"; java="${JAVA:-$java}"
cli_jar="$root/examples/target/higgs-trt-cli.jar"
cli() { "$java" --enable-native-access=ALL-UNNAMED -jar "$cli_jar" "$@"; }
in="$work/full"
if [ ! -f "$in/model.safetensors.index.json" ]; then
  rm -rf "$in"; cli synth --preset full --format transformers --output "$in" --seed 1 --text-head
fi
cat "$in"/*.safetensors > /dev/null   # warm the page cache for every contender
size=$(du -cb "$in"/*.safetensors | tail -1 | cut -f1)
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
declare -a cps t1s t4s r1s r4s
for i in $(seq "$runs"); do
  rm -rf "$work/cp" "$work/tp1" "$work/tp2pp2"; sync
  t0=$(now); cp -r "$in" "$work/cp"; sync; t1=$(now); cps+=("$(echo "$t1 - $t0" | bc)"); rm -rf "$work/cp"; sync
  t0=$(now); /usr/bin/time -f %M -o "$work/rss" "$java" --enable-native-access=ALL-UNNAMED -jar "$cli_jar" convert --input "$in" --output "$work/tp1" >"$work/log1"; sync; t1=$(now)
  t1s+=("$(echo "$t1 - $t0" | bc)"); r1s+=("$(cat "$work/rss")"); rm -rf "$work/tp1"; sync
  t0=$(now); /usr/bin/time -f %M -o "$work/rss" "$java" --enable-native-access=ALL-UNNAMED -jar "$cli_jar" convert --input "$in" --output "$work/tp2pp2" --tp 2 --pp 2 >"$work/log4"; sync; t1=$(now)
  t4s+=("$(echo "$t1 - $t0" | bc)"); r4s+=("$(cat "$work/rss")"); rm -rf "$work/tp2pp2"; sync
done
mc=$(median "${cps[@]}")
echo
echo "| conversion | input (GB) | cp -r + sync (s) | higgs-trt convert + sync (s) | GB/s | ratio | peak RSS (MB) |"
echo "|---|---|---|---|---|---|---|"
for v in "tp 1:t1s:r1s" "tp 2 x pp 2:t4s:r4s"; do
  IFS=: read -r name tv rv <<<"$v"
  declare -n ts=$tv rs=$rv
  m=$(median "${ts[@]}"); r=$(median "${rs[@]}")
  printf '| %s | %.2f | %.2f | %.2f | %.2f | %.2fx | %d |\n' "$name" "$(echo "$size/1000000000" | bc -l)" "$mc" "$m" \
    "$(echo "$size/1000000000/$m" | bc -l)" "$(echo "$m/$mc" | bc -l)" "$((r/1024))"
done
echo "runs: $runs; cp: ${cps[*]}; tp1: ${t1s[*]}; tp2pp2: ${t4s[*]}; RSS KB tp1: ${r1s[*]}; tp2pp2: ${r4s[*]}"
tail -1 "$work/log1"; tail -1 "$work/log4"
