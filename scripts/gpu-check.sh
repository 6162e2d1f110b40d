#!/usr/bin/env bash
# GPU check for a CUDA machine (NVIDIA driver + CUDA 13 + cuDNN 9; Linux x64).
#
#   scripts/gpu-check.sh [extra benchmark arguments]      e.g. scripts/gpu-check.sh --device 1
#
# From the repository root (or anywhere: it changes there): shows the GPU and the CUDA/cuDNN libraries it
# finds, builds the xunit tests and the benchmark, runs the xunit tests (their CUDA test then requires the
# CUDA provider to load) and the benchmark twice with --provider Cuda:
#   1. the default stand-in networks (the ones of the CPU table in README), so the figures compare;
#   2. GPU-sized stand-ins (prior 8 x conv3x3 1024 channels, ~290 MB; decoder 4 x conv3x3 128 channels),
#      because the default ones take only a few ms a call on a large GPU and would measure launch latency.
# Every step runs under `timeout`; the whole script stays under 10 minutes (BUDGET_S, default 570 s).
# The build needs the NuGet packages (network or a filled ~/.nuget/packages); without a .NET SDK it
# runs an already-built tree with the .NET runtime, or says what is missing.
# Exit status: 0 when everything ran (the PASS/FAIL lines are the result), 1 when a step failed,
# 3 when CUDA is not usable, 4 when .NET is missing.

set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
BUDGET_S=${BUDGET_S:-570}
START=$SECONDS
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 ORT_DISABLE_TELEMETRY=1 NO_COLOR=1
status=0
LOG_DIR="$ROOT/out/gpu-check"
mkdir -p "$LOG_DIR"

say() { printf '\n== %s\n' "$*"; }
left() { echo $((BUDGET_S - (SECONDS - START))); }
# run_step SECONDS LOGFILE command...: at most SECONDS and never past the budget; output to the terminal and LOGFILE
run_step() {
    local limit=$1 log=$2; shift 2
    local remaining; remaining=$(left)
    if (( remaining < 20 )); then echo "skipped: less than 20 s of the ${BUDGET_S} s budget left"; return 124; fi
    (( limit > remaining )) && limit=$remaining
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    (( rc == 124 || rc == 137 )) && echo "timed out after ${limit} s"
    return "$rc"
}

say "GPU"
if command -v nvidia-smi >/dev/null 2>&1; then
    timeout 30 nvidia-smi --query-gpu=index,name,driver_version,memory.total,memory.used --format=csv,noheader || echo "nvidia-smi failed"
    timeout 30 nvidia-smi | grep -m1 'CUDA Version' || true
else
    echo "nvidia-smi not found: no NVIDIA driver on this machine? The CUDA provider will not load."
fi

say "CUDA 13 / cuDNN 9 libraries"
# directories that commonly hold them; those that do are put in front of LD_LIBRARY_PATH
candidates=()
IFS=':' read -r -a ld_dirs <<< "${LD_LIBRARY_PATH:-}"
candidates+=(${ld_dirs[@]+"${ld_dirs[@]}"})
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-13*/lib64 /usr/local/cuda-13*/targets/x86_64-linux/lib \
         /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/lib /opt/nvidia/*/lib* \
         /usr/local/lib/python3*/dist-packages/nvidia/*/lib /usr/local/lib/python3*/site-packages/nvidia/*/lib \
         /usr/lib/python3/dist-packages/nvidia/*/lib "$HOME"/.local/lib/python3*/site-packages/nvidia/*/lib; do
    [[ -d $d ]] && candidates+=("$d")
done
added=()
missing=()
for lib in 'libcudart.so.13*' 'libcublas.so.13*' 'libcublasLt.so.13*' 'libcufft.so.*' 'libcurand.so.*' 'libcudnn.so.9*'; do
    found=""
    for d in ${candidates[@]+"${candidates[@]}"}; do
        [[ -n $d && -d $d ]] || continue
        f=$(compgen -G "$d/$lib" | head -n1 || true)
        if [[ -n $f ]]; then found=$f; break; fi
    done
    if [[ -z $found ]]; then
        found=$(ldconfig -p 2>/dev/null | awk -v pat="${lib%\*}" 'index($1, pat) == 1 { print $NF; exit }')
    fi
    name=${lib%\*}
    name=${name%.}
    if [[ -n $found ]]; then
        echo "  $name: $found"
        dir=$(dirname "$found")
        [[ " ${added[*]:-} " == *" $dir "* ]] || added+=("$dir")
    else
        echo "  $name: NOT FOUND"
        missing+=("$name")
    fi
done
if (( ${#added[@]} > 0 )); then
    export LD_LIBRARY_PATH="$(IFS=:; echo "${added[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
fi
(( ${#missing[@]} > 0 )) && echo "missing: ${missing[*]} (ONNX Runtime 1.31's CUDA provider needs CUDA 13 and cuDNN 9; the run below will say what fails to load)"

say ".NET"
DOTNET_ENV=${DOTNET:-}
DOTNET=""
for c in "$DOTNET_ENV" "$(command -v dotnet 2>/dev/null || true)" "$HOME/.dotnet/dotnet" /usr/share/dotnet/dotnet /usr/lib/dotnet/dotnet /opt/dotnet/dotnet; do
    if [[ -n $c && -x $c ]]; then DOTNET=$c; break; fi
done
have_sdk=0
have_runtime=0
if [[ -n $DOTNET ]]; then
    echo "dotnet: $DOTNET"
    sdks=$("$DOTNET" --list-sdks 2>/dev/null || true)
    runtimes=$("$DOTNET" --list-runtimes 2>/dev/null | grep 'Microsoft.NETCore.App' || true)
    echo "SDKs: ${sdks:-none}"
    echo "runtimes: ${runtimes:-none}"
    # net8.0 with RollForward=Major: any runtime 8 or later
    if grep -Eq '^(8|9|[1-9][0-9])\.' <<< "$sdks"; then have_sdk=1; fi
    if grep -Eq 'Microsoft.NETCore.App (8|9|[1-9][0-9])\.' <<< "$runtimes"; then have_runtime=1; fi
else
    echo "no dotnet found (looked at \$DOTNET, PATH, ~/.dotnet, /usr/share/dotnet, /usr/lib/dotnet, /opt/dotnet)"
fi

BENCH_DLL="$ROOT/tests/Benchmark/bin/Release/net8.0/Benchmark.dll"
if (( have_sdk )); then
    say "build (Release)"
    if ! run_step 240 "$LOG_DIR/build.log" "$DOTNET" build "$ROOT/tests/Benchmark/Benchmark.csproj" -c Release -nologo -v:q; then
        echo "benchmark build failed (no network and no NuGet cache? see $LOG_DIR/build.log)"; status=1
    fi
    if ! run_step 180 "$LOG_DIR/build-tests.log" "$DOTNET" build "$ROOT/tests/Wuerstchen.Core.Tests/Wuerstchen.Core.Tests.csproj" -c Release -nologo -v:q; then
        echo "test build failed (see $LOG_DIR/build-tests.log)"; status=1
    fi

    say "xunit tests (Release)"
    if ! run_step 200 "$LOG_DIR/xunit.log" "$DOTNET" test "$ROOT/tests/Wuerstchen.Core.Tests/Wuerstchen.Core.Tests.csproj" -c Release --no-build -nologo \
        --logger 'console;verbosity=minimal'; then
        echo "xunit: failures or no result (see $LOG_DIR/xunit.log)"; status=1
    fi
elif (( have_runtime )) && [[ -f $BENCH_DLL ]]; then
    say "no .NET SDK: the xunit tests cannot be built or run here; running the benchmark already built in tests/Benchmark/bin with the runtime"
    status=1
elif [[ -n $DOTNET ]]; then
    echo "A .NET 8 or later SDK is needed to build (https://dot.net); no built benchmark at $BENCH_DLL either. Nothing to run."
    exit 4
else
    echo "The .NET SDK is absent on this machine: install the .NET 8 or later SDK (https://dot.net, or dotnet-install.sh) and run this script again."
    exit 4
fi

if [[ ! -f $BENCH_DLL ]]; then
    echo "no benchmark binary at $BENCH_DLL"; exit 1
fi

say "benchmark 1/2: default stand-ins, --provider Cuda"
run_step 150 "$LOG_DIR/bench-default.log" "$DOTNET" "$BENCH_DLL" --provider Cuda --repeat 3 "$@"
rc=$?
if (( rc != 0 )); then
    status=1
    if grep -q 'CudaUnavailable' "$LOG_DIR/bench-default.log"; then
        echo "The CUDA provider did not load (message above)."; exit 3
    fi
fi

say "benchmark 2/2: GPU-sized stand-ins, --provider Cuda"
run_step 240 "$LOG_DIR/bench-gpu.log" "$DOTNET" "$BENCH_DLL" --provider Cuda --repeat 3 \
    --prior-channels 1024 --prior-layers 8 --decoder-channels 128 --decoder-layers 4 --decoder-kernel 3 \
    --models "$ROOT/out/bench-models-gpu" "$@" || status=1

say "summary"
for f in bench-default bench-gpu; do
    [[ -f $LOG_DIR/$f.log ]] || continue
    echo "-- $f"
    grep -E '^(run:|stand-in networks:|end-to-end|inside ONNX|overhead ratio:|glue per sampler step:|managed bytes|cache speedup:|peak working set:|deterministic:|PASS|FAIL)|^  (prior|decoder|vqgan|first touch)' "$LOG_DIR/$f.log" || true
done
[[ -f $LOG_DIR/xunit.log ]] && { echo "-- xunit"; grep -E '(Passed|Failed)!' "$LOG_DIR/xunit.log" || true; }
echo "logs: $LOG_DIR; took $((SECONDS - START)) s"
exit $status
