#!/usr/bin/env bash
# Safetensors I/O benchmark: read a 2 GiB BF16 file, convert BF16 -> F32 -> BF16, write it;
# beside `cp` of the same file in the same run. Two higgs-trt contenders: the default (direct I/O
# where the file system allows it) and through the page cache (-Dhiggstrt.directIo=false).
# Prints a markdown table for docs/performance.md.
#   bash bench/io.sh [GIB] [RUNS] [WORKDIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
gib="${1:-2}"; runs="${2:-3}"; work="${3:-$root/bench/out}"
mkdir -p "$work"
java="$(ls -d /usr/lib/jvm/*25*/bin/java 2>/dev/null | head -1)"; java="${JAVA:-$java}"
(cd "$root" && mvn -B -q -DskipTests -pl bench -am package)
cp="$root/bench/target/higgs-trt-bench-0.1.0-SNAPSHOT.jar:$(ls "$root"/bench/target/lib/*.jar | tr '\n' ':')"
run() { "$java" --enable-native-access=ALL-UNNAMED -Xmx256m $JFLAGS -cp "$cp" dev.higgstrt.bench.SafetensorsRoundTrip "$@"; }

in="$work/in.safetensors"
[ -f "$in" ] || JFLAGS= run generate "$in" "$gib"
cat "$in" > /dev/null   # warm the page cache for every contender
size=$(stat -c %s "$in")
# On the development VM, writing into the page cache costs the guest's CPU 0.5 - 5 s per 2 GB
# (the host backs freshly used guest memory on first touch), depending on what the machine did
# just before. Each contender starts right after the same step, writing and deleting a file of
# the same size, so that all meet the same conditions.
settle() { sync; head -c "$size" /dev/zero > "$work/prime"; rm -f "$work/prime"; sync; }
timed() {  # timed NAME COMMAND...: appends seconds to NAME
  local t0 t1; t0=$(date +%s.%N); "${@:2}"; sync; t1=$(date +%s.%N)
  eval "$1+=(\"$(echo "$t1 - $t0" | bc)\")"
}
convert() {  # convert JFLAGS: one higgs-trt contender, its in-JVM seconds and peak RSS recorded
  /usr/bin/time -f '%M' -o "$work/rss" bash -c "$(declare -f run); java='$java' cp='$cp' JFLAGS='$1'; run convert '$in' '$work/out.safetensors'" >"$work/convert.log"
}
same() { cmp -s "$in" "$work/out.safetensors" || { echo "output differs from input"; exit 1; }; }
declare -a cps directs buffereds inDirect inBuffered rssDirect rssBuffered
for i in $(seq "$runs"); do
  rm -f "$work/cp.safetensors" "$work/out.safetensors"; settle
  timed cps cp "$in" "$work/cp.safetensors"
  rm -f "$work/cp.safetensors"; settle
  timed directs convert ""; same
  inDirect+=("$(sed -n 's/.* in \([0-9.]*\) s .*/\1/p' "$work/convert.log")"); rssDirect+=("$(cat "$work/rss")")
  rm -f "$work/out.safetensors"; settle
  timed buffereds convert "-Dhiggstrt.directIo=false"; same
  inBuffered+=("$(sed -n 's/.* in \([0-9.]*\) s .*/\1/p' "$work/convert.log")"); rssBuffered+=("$(cat "$work/rss")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratios() { for j in $(seq 0 $((runs - 1))); do eval "echo \"\${$1[$j]} / \${cps[$j]}\"" | bc -l; done; }
mc=$(median "${cps[@]}")
row() {  # row LABEL TIMES_ARRAY INJVM_ARRAY RSS_ARRAY
  local -n t=$2 in=$3 r=$4
  local mt; mt=$(median "${t[@]}")
  printf '| %s | %.2f | %.2f | %.2fx | %.2fx | %.2f | %d |\n' "$1" "$mc" "$mt" "$(echo "$mt/$mc" | bc -l)" \
    "$(median $(ratios "$2"))" "$(median "${in[@]}")" "$(( $(median "${r[@]}") / 1024 ))"
}
echo
printf 'file: %.2f GB, runs: %s\n\n' "$(echo "$size/1000000000" | bc -l)" "$runs"
echo "| higgs-trt writing | cp + sync (s) | higgs-trt process + sync (s) | ratio of medians | median of run ratios | inside the JVM (s) | peak RSS (MB) |"
echo "|---|---|---|---|---|---|---|"
row "direct I/O (default)" directs inDirect rssDirect
row "page cache" buffereds inBuffered rssBuffered
echo
echo "cp: ${cps[*]}"
echo "direct I/O: ${directs[*]} (in JVM: ${inDirect[*]})"
echo "page cache: ${buffereds[*]} (in JVM: ${inBuffered[*]})"
rm -f "$work/out.safetensors"
