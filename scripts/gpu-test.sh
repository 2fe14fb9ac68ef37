#!/usr/bin/env bash
# GPU tests (JUnit tag "gpu") on a machine with an NVIDIA GPU, TensorRT 10 and Java 25.
#
#   Here (no GPU needed):   bash scripts/gpu-test.sh prepare
#       builds the project and gathers the test class path into .device/cp (git-ignored).
#   On the GPU machine:     bash scripts/gpu-test.sh run [TAG [CLASS]]
#       TAG gpu, or gpu-long for the slow ones; CLASS (e.g. DualFfnPluginGpuTest) runs that class only,
#       CLASS#method that method;
#       HIGGS_JAVA_OPTS passes JVM options (e.g. -Dhiggs.cycles=1000)
#       runs the gpu-tagged tests with the JUnit console launcher; JAVA_HOME, LD_LIBRARY_PATH
#       (TensorRT + libcudart 12) and HX_JARS (JavaCPP/TensorRT/CUDA jars with natives) come from
#       ../shared/device/env.sh on the lent device, or from your own install (docs/gpu.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cp_dir="$root/.device/cp"
case "${1:-}" in
  prepare)
    (cd "$root" && mvn -B -q -DskipTests install)
    rm -rf "$cp_dir"; mkdir -p "$cp_dir/lib"
    cp -r "$root/core/target/classes" "$cp_dir/core-classes"
    cp -r "$root/core/target/test-classes" "$cp_dir/core-test-classes"
    cp -r "$root/native/target/classes" "$cp_dir/native-classes"
    cp -r "$root/native/target/test-classes" "$cp_dir/native-test-classes"
    (cd "$root/native" && mvn -B -q dependency:copy-dependencies -DincludeScope=test -DoutputDirectory="$cp_dir/lib" \
        -DexcludeGroupIds=org.bytedeco,dev.higgstrt,ai.djl -DexcludeArtifactIds=gson,commons-compress)   # the tokenizer (55 MB of natives) is not needed by the GPU tests
    rm -f "$cp_dir"/lib/junit-*.jar "$cp_dir"/lib/opentest4j-*.jar "$cp_dir"/lib/apiguardian-*.jar   # in the console jar
    # the console launcher is no dependency of the build: Maven fetches it (also into an empty ~/.m2)
    (cd "$root/native" && mvn -B -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.13.4 \
        -DoutputDirectory="$cp_dir/lib")
    du -sh "$cp_dir"
    ;;
  run)
    # CLASS or CLASS#method by simple name: its package is found among the test classes
    select_tests() {
      [ -z "$1" ] && { echo "--select-package dev.higgstrt.trt"; return; }
      local cls="${1%%#*}" fq
      fq=$(cd "$cp_dir/native-test-classes" && find . -name "$cls.class" | head -1 | sed 's|^\./||; s|\.class$||; s|/|.|g')
      [ -n "$fq" ] || { echo "gpu-test.sh: no test class $cls" >&2; exit 2; }
      case "$1" in *"#"*) echo "--select-method $fq#${1#*#}" ;; *) echo "--select-class $fq" ;; esac
    }
    java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
    classes="$cp_dir/core-classes:$cp_dir/core-test-classes:$cp_dir/native-classes:$cp_dir/native-test-classes"
    libs="$(ls "$cp_dir"/lib/*.jar | grep -v console-standalone | tr '\n' ':')"
    cd "$root/native"   # the tests find the core module's fixtures at ../core/src/test/resources
    "$java" ${HIGGS_JAVA_OPTS:-} --enable-native-access=ALL-UNNAMED -jar "$cp_dir/lib/junit-platform-console-standalone-1.13.4.jar" \
      execute --class-path "$classes:$libs${HX_JARS:+:$HX_JARS}" --include-tag "${2:-gpu}" $(select_tests "${3:-}") \
      --details=tree --disable-banner
    ;;
  *) echo "usage: scripts/gpu-test.sh prepare|run" >&2; exit 2 ;;
esac
