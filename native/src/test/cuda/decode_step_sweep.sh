#!/usr/bin/env bash
# Runs decode_step_bench (built with -DHIGGS_TRT_TILING_KNOBS) over the dependent-launch masks and the
# one-token tilings, on the GPU machine, printing one line a variant: the whole step (and, for the
# masks, the step without attention and each kind of kernel alone), in microseconds, with the ratio
# to the floor.
#   decode_step_sweep.sh BENCH [CONTEXT]
# The masks: 15 the default (linear, FFN, attention, many-token kernels), +16 the attention's early
# trigger, +32 the skinny kernels' early start with their first weight loads before their wait.
set -uo pipefail
bench="$1"
context="${2:-600}"
run() {   # label, then environment assignments
  local label="$1"
  shift
  env "$@" "$bench" "$context" $parts | awk -v label="$label" '
    /^copy/ { copy = $2 }
    /floor .* ms/ { floor = $2 }
    /whole step/ { step = $3 }
    /step without attention/ { noattn = $4 }
    /28 q\/k\/v/ { qkv = $3 }
    /28 attention/ { att = $3 }
    /28 output/ { o = $4 }
    /28 FFN/ { ffn = $5 }
    /audio head/ { head = $3 }
    END { printf "%-40s step %7.1f us (%.2fx)  no-attn %7.1f  alone: qkv %6.1f att %6.1f o %6.1f ffn %6.1f head %5.1f  copy %s\n",
          label, step, step / (floor * 1000), noattn, qkv, att, o, ffn, head, copy }'
}
parts=""
for mask in 15 31 47 63; do
  run "pdl $mask" HIGGS_TRT_PDL=$mask
done
parts=step   # the rest: the whole step only
for mask in ${SWEEP_MASKS:-15 63}; do
  for cluster in 4 2; do
    run "pdl $mask decode cluster $cluster" HIGGS_TRT_PDL=$mask HIGGS_TRT_DECODE_CLUSTER=$cluster
  done
done
for mask in ${SWEEP_MASKS:-15 63}; do
  for linear in ${SWEEP_LINEAR:-2,4,1 2,4,2 2,4,3 1,2,1 4,8,1 4,4,2}; do
    run "pdl $mask linear $linear" HIGGS_TRT_PDL=$mask HIGGS_TRT_LINEAR_TILING=$linear
  done
  for ffn in ${SWEEP_FFN:-4,1,1,4 4,2,1,4 2,1,1,4 2,2,1,4 4,1,2,4 4,1,1,8 4,1,1,2 4,1,2,2}; do
    run "pdl $mask ffn $ffn" HIGGS_TRT_PDL=$mask HIGGS_TRT_FFN_TILING=$ffn
  done
done
