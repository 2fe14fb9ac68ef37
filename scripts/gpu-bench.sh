#!/usr/bin/env bash
# Engine checks and benchmarks on the lent GPU (after ../shared/device/stage.sh and
# scripts/gpu-bench.sh prepare here). Each step prints its own result lines.
#   bash scripts/gpu-bench.sh prepare          here: gathers the CLI and bench jars into .device/app
#   bash scripts/gpu-bench.sh small WORK        device: small preset, bf16 engine, smoke with 32 decode steps
#   bash scripts/gpu-bench.sh full WORK [FFN]   device: full preset, bf16 engine, build time, prefill 512, decode
#                                               (FFN: plugin, compute-both or auto)
#   bash scripts/gpu-bench.sh ffn               device: one FFN block of the full geometry: plugin vs
#                                               compute-both vs a single FFN, T = 1, 64, 512, 2048
#   bash scripts/gpu-bench.sh paged WORK [FRAMES [BATCH...]] device: the packed, paged engine, full preset, bf16: frames/s at
#                                               batch 1..256 of 512-position prompts, floor, prefill, first frame
#                                               (HX_JAVA_PROPS=-Dhiggs.trt.linearPlugin=false: TensorRT's GEMMs for the projections)
#   bash scripts/gpu-bench.sh profile WORK [STEPS] device: the paged engine's batch-1 decode step under Nsight Compute,
#                                               the GPU time of each kernel (ncu, one pass, clocks left alone)
#   bash scripts/gpu-bench.sh trace WORK [STEPS [prefill]] device: the same on a CUPTI timeline: each call's span on the GPU,
#                                               its kernel time, the gaps between kernels, how far ahead the host issued them
#   bash scripts/gpu-bench.sh eager WORK        device: transformers' eager forward of the same full weights
#   bash scripts/gpu-bench.sh ttfa WORK [FIRST] device: time to first audio of tts --stream, full model (paged engine) and codec, bf16
#   bash scripts/gpu-bench.sh serve WORK        device: the speech server on the small preset's paged engine and the full codec engine,
#                                               under load (scripts/bench/speech_load.py)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
app="$root/.device/app"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
# HX_LAUNCH: a command the JVM runs under (a profiler); HX_JAVA_PROPS: JVM options
run() { ${HX_LAUNCH:-} "$java" --enable-native-access=ALL-UNNAMED ${HX_JAVA_PROPS:-} -cp "$app/higgs-trt-cli.jar:$app/bench.jar:$app/lib/*${HX_JARS:+:$HX_JARS}" "$@"; }
cli() { run dev.higgstrt.cli.HiggsTrtCommand "$@"; }
# the full preset's synthetic checkpoint and its conversion under $1, made once
full_checkpoint() {
  [ -f "$1/full/model.safetensors.index.json" ] || cli synth --preset full --output "$1/full" --seed 1
  [ -f "$1/full-trt/config.json" ] || cli convert --input "$1/full" --output "$1/full-trt"
}
case "${1:-}" in
  prepare)
    (cd "$root" && mvn -B -q -DskipTests install)
    rm -rf "$app"; mkdir -p "$app/lib"
    cp "$root/examples/target/higgs-trt-cli.jar" "$app/"
    cp "$root"/bench/target/higgs-trt-bench-*.jar "$app/bench.jar"
    cp "$root"/examples/target/lib/*.jar "$app/lib/"
    du -sh "$app" ;;
  small)
    w="$2"; mkdir -p "$w"
    cli synth --preset small --output "$w/small" --seed 3
    cli convert --input "$w/small" --output "$w/small-trt"
    cli build --checkpoint "$w/small-trt" --engine "$w/small.engine" --dtype bfloat16 --max-seq 256
    cli smoke --engine "$w/small.engine" --checkpoint "$w/small-trt" --decode 32 ;;
  full)
    w="$2"; mkdir -p "$w"
    full_checkpoint "$w"
    run dev.higgstrt.bench.EnginePerf "$w/full-trt" bfloat16 1024 512 64 "${3:-auto}" ;;
  ffn)
    run dev.higgstrt.bench.FfnPluginPerf ;;
  paged)
    w="$2"; mkdir -p "$w"
    full_checkpoint "$w"
    batches=("${@:4}")
    [ ${#batches[@]} -gt 0 ] || batches=(1 8 32 64 128 256)
    HX_JAVA_PROPS="${HX_JAVA_PROPS:-} -Dhiggs.bench.saveEngine=$w/full-paged.engine" run dev.higgstrt.bench.PagedPerf "$w/full-trt" \
        bfloat16 512 "${3:-1000}" "${batches[@]}" ;;
  profile)
    w="$2"; mkdir -p "$w"
    full_checkpoint "$w"
    ncu="$(command -v ncu || echo /usr/local/cuda/bin/ncu)"
    HX_LAUNCH="$ncu --profile-from-start off --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel --target-processes all" \
      HX_JAVA_PROPS="${HX_JAVA_PROPS:-} -Dhiggs.bench.profileSteps=${3:-3}" run dev.higgstrt.bench.PagedPerf "$w/full-trt" bfloat16 512 64 1 ;;
  trace)
    # the same profiled calls on a GPU timeline (CUPTI, native/src/test/cuda/cupti_trace.cpp; the GPU machine has
    # no Nsight Systems): each call's GPU span, kernel time, the idle gaps between kernels and how far ahead the
    # host issued them (scripts/bench/trace_gaps.py)
    w="$2"; mkdir -p "$w"
    full_checkpoint "$w"
    cuda=/usr/local/cuda
    g++ -O2 -shared -fPIC -I"$cuda/include" -I"$cuda/extras/CUPTI/include" -o "$w/libhxtrace.so" "$root/native/src/test/cuda/cupti_trace.cpp" \
        -L"$cuda/lib64" -L"$cuda/extras/CUPTI/lib64" -Wl,-rpath,"$cuda/lib64:$cuda/extras/CUPTI/lib64" -lcupti
    prefill=false; [ "${4:-decode}" = prefill ] && prefill=true
    CUDA_INJECTION64_PATH="$w/libhxtrace.so" HX_TRACE_OUT="$w/trace" \
      HX_JAVA_PROPS="${HX_JAVA_PROPS:-} -Dhiggs.bench.profileSteps=${3:-3} -Dhiggs.bench.profilePrefill=$prefill" \
      run dev.higgstrt.bench.PagedPerf "$w/full-trt" bfloat16 512 64 1
    python3 "$root/scripts/bench/trace_gaps.py" "$w/trace.gpu.csv" "$w/trace.api.csv" ;;
  eager)
    python3 "$root/scripts/bench/transformers_eager.py" "$2/full" 512 64 ;;
  ttfa)
    w="$2"; mkdir -p "$w"
    full_checkpoint "$w"
    # the paged engine (saved by the paged benchmark when it ran first), else built here
    [ -f "$w/full-paged.engine" ] || cli build --paged --checkpoint "$w/full-trt" --engine "$w/full-paged.engine" --dtype bfloat16 \
        --max-seq 1520 --max-tokens 2048 --max-batch 256
    [ -f "$w/codec/config.json" ] || cli synth --codec --preset full --output "$w/codec"
    [ -f "$w/codec.engine" ] || cli build-codec --codec "$w/codec" --engine "$w/codec.engine" --dtype bfloat16 --max-frames 256
    # about 100 prompt positions: the chat template's ~30 and ~70 of text
    text="The quick brown fox jumps over the lazy dog while the early morning sun rises slowly over the quiet hills and the river below."
    for i in 1 2 3; do
      cli tts --checkpoint "$w/full-trt" --engine "$w/full-paged.engine" --first-chunk "${3:-5}" --codec-engine "$w/codec.engine" --text "$text" \
          --seed "$i" --max-frames 64 --stream --output "$w/ttfa-$i.pcm"   # pcm: the rig's jlinked JRE has no javax.sound
    done ;;
  serve)
    w="$2"; mkdir -p "$w"
    [ -f "$w/small/config.json" ] || cli synth --preset small --output "$w/small" --seed 3
    [ -f "$w/small-trt/config.json" ] || cli convert --input "$w/small" --output "$w/small-trt"
    [ -f "$w/small-paged.engine" ] || cli build --paged --checkpoint "$w/small-trt" --engine "$w/small-paged.engine" --dtype bfloat16 \
        --max-seq 512 --max-tokens 1024 --max-batch 64
    [ -f "$w/codec/config.json" ] || cli synth --codec --preset full --output "$w/codec"
    [ -f "$w/codec.engine" ] || cli build-codec --codec "$w/codec" --engine "$w/codec.engine" --dtype bfloat16 --max-frames 256
    cli serve --checkpoint "$w/small-trt" --engine "$w/small-paged.engine" --codec-engine "$w/codec.engine" --port 8123 \
        --max-running 16 --queue 16 > "$w/serve.log" 2>&1 &
    pid=$!
    for i in $(seq 1 120); do grep -q "listening on" "$w/serve.log" && break; sleep 1; done
    cat "$w/serve.log"
    curl -s --noproxy '*' -o "$w/one.pcm" -w "one request: %{http_code}, %{size_download} bytes, first byte after %{time_starttransfer} s\n" \
        -X POST 127.0.0.1:8123/v1/audio/speech -d '{"input": "Hello there, this is a test.", "seed": 1, "max_frames": 100, "stream": true, "response_format": "pcm"}'
    head -c 300 "$w/one.pcm" | tr -c '[:print:]' '.'; echo
    python3 "$root/scripts/bench/speech_load.py" 8123 1 100 3
    python3 "$root/scripts/bench/speech_load.py" 8123 16 100 2
    python3 "$root/scripts/bench/speech_load.py" 8123 64 100 1
    curl -s --noproxy '*' 127.0.0.1:8123/metrics | grep -v '^#'
    kill "$pid"; wait "$pid" || true
    grep -v "^\s*at " "$w/serve.log" | sort | uniq -c | sort -rn | head -20 ;;
  *) echo "usage: scripts/gpu-bench.sh prepare | small WORK | full WORK [FFN] | ffn | paged WORK [FRAMES] | profile WORK [STEPS] | eager WORK | ttfa WORK | serve WORK" >&2; exit 2 ;;
esac
