#!/usr/bin/env bash
# Safetensors I/O benchmark: read a 2 GiB BF16 file, convert BF16 -> F32 -> BF16, write it;
# beside `cp` of the same file in the same run. Prints a markdown table for docs/performance.md.
#   bash bench/io.sh [GIB] [RUNS] [WORKDIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
gib="${1:-2}"; runs="${2:-3}"; work="${3:-$root/bench/out}"
mkdir -p "$work"
java="$(ls -d /usr/lib/jvm/*25*/bin/java 2>/dev/null | head -1)"; java="${JAVA:-$java}"
(cd "$root" && mvn -B -q -DskipTests -pl bench -am package)
cp="$root/bench/target/higgs-trt-bench-0.1.0-SNAPSHOT.jar:$(ls "$root"/bench/target/lib/*.jar | tr '\n' ':')"
run() { "$java" --enable-native-access=ALL-UNNAMED -Xmx256m -cp "$cp" dev.higgstrt.bench.SafetensorsRoundTrip "$@"; }

in="$work/in.safetensors"
[ -f "$in" ] || run generate "$in" "$gib"
cat "$in" > /dev/null   # warm the page cache for both contenders
size=$(stat -c %s "$in")
declare -a cps javas rss inproc
# On the development VM, memory that the guest freed and left idle for a second or two goes back
# to the host, and the next 2 GB written into the page cache fault it in again: such a write takes
# 3 - 5 s instead of 0.5 s, whoever does it. So each contender starts right after writing and
# deleting a file of the same size, which leaves that much memory in the guest's hands.
settle() { sync; head -c "$size" /dev/zero > "$work/prime"; rm -f "$work/prime"; sync; }
for i in $(seq "$runs"); do
  rm -f "$work/cp.safetensors" "$work/out.safetensors"; settle
  t0=$(date +%s.%N); cp "$in" "$work/cp.safetensors"; sync; t1=$(date +%s.%N)
  cps+=("$(echo "$t1 - $t0" | bc)")
  rm -f "$work/cp.safetensors"; settle
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$work/rss" bash -c "$(declare -f run); java='$java' cp='$cp'; run convert '$in' '$work/out.safetensors'" >"$work/convert.log"
  sync; t1=$(date +%s.%N)
  javas+=("$(echo "$t1 - $t0" | bc)")
  inproc+=("$(sed -n 's/.* in \([0-9.]*\) s .*/\1/p' "$work/convert.log")")
  rss+=("$(cat "$work/rss")")
  cmp -s "$in" "$work/out.safetensors" || { echo "output differs from input"; exit 1; }
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mc=$(median "${cps[@]}"); mj=$(median "${javas[@]}"); mr=$(median "${rss[@]}"); mi=$(median "${inproc[@]}")
echo
echo "| file | cp + sync (s) | higgs-trt process (s) | ratio | inside the JVM (s) | ratio | peak RSS (MB) |"
echo "|---|---|---|---|---|---|---|"
printf '| %.2f GB | %.2f | %.2f | %.2fx | %.2f | %.2fx | %d |\n' "$(echo "$size/1000000000" | bc -l)" "$mc" "$mj" \
  "$(echo "$mj/$mc" | bc -l)" "$mi" "$(echo "$mi/$mc" | bc -l)" "$((mr/1024))"
echo "runs: $runs (medians above); cp: ${cps[*]}; process: ${javas[*]}; in JVM: ${inproc[*]}; RSS KB: ${rss[*]}"
rm -f "$work/out.safetensors"
