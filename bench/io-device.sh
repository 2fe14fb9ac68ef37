#!/usr/bin/env bash
# bench/io.sh where there is no Maven (the lent GPU device): the bench classes (bench/target/classes)
# and the class path that `bash scripts/gpu-test.sh prepare` gathers into .device/cp; run from the
# repository root after the device is staged (docs/gpu.md). Prints seconds per run.
set -euo pipefail
source .device/env.sh
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
C=.device/cp
cpath="bench/target/classes:$C/core-classes:$(ls $C/lib/*.jar | grep -v console | tr '\n' ':')"
work=/tmp/io; mkdir -p $work; in=$work/in.safetensors
run() { "$java" --enable-native-access=ALL-UNNAMED -Xmx256m $1 -cp "$cpath" dev.higgstrt.bench.SafetensorsRoundTrip "${@:2}"; }
run "" generate $in 2 >/dev/null; cat $in >/dev/null; size=$(stat -c %s $in)
settle() { sync; head -c "$size" /dev/zero > $work/prime; rm -f $work/prime; sync; }
t() { local a b; a=$(date +%s.%N); "$@" >/dev/null; sync; b=$(date +%s.%N); echo "$a $b" | awk '{printf "%.3f", $2-$1}'; }
nproc; df -T /tmp | tail -1
for i in 1 2 3 4 5; do
  rm -f $work/c $work/o; settle; c=$(t cp $in $work/c); rm -f $work/c; settle
  d=$(t run "" convert $in $work/o); cmp -s $in $work/o; rm -f $work/o; settle
  p=$(t run "-Dhiggstrt.directIo=false" convert $in $work/o); cmp -s $in $work/o; rm -f $work/o
  echo "run $i: cp $c direct $d pagecache $p"
done
