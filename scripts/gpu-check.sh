#!/usr/bin/env bash
# GPU check: proves the install on a CUDA machine and measures it, in one run of under 8 minutes (Linux x64, an NVIDIA
# driver for CUDA 13, the CUDA 13 runtime and cuDNN 9; the .NET SDK; the NuGet cache carried or restorable).
#
#   scripts/gpu-check.sh [--provider Cuda|Cpu] [--device N] [--dry-run]
#
# Steps (each under `timeout`, all within BUDGET_S, default 470 s), one SUMMARY line per figure at the end:
#   1. the GPU and the CUDA/cuDNN libraries (the libraries found are put on LD_LIBRARY_PATH);
#   2. build: build.ps1 -Task Package (the module, Wuerstchen.<v>.nupkg and Wuerstchen.Cuda.Linux.1.31.0.nupkg), the
#      xunit tests and the benchmark;
#   3. the xunit tests with WUERSTCHEN_TEST_PROVIDER=<provider>: the parity jobs run on it against the same CPU expected
#      arrays (tolerance: embeddings 1e-3 relative; pixels at most 2 levels, at most 0.1 % over 1), and ProviderTests
#      checks that their sessions really are on CUDA;
#   4. scripts/gpu-install-check.ps1: Install-PSResource Wuerstchen, Wuerstchen.Cuda.Linux from out/packages into a fresh
#      module path, import by name, the companion's GPU build loaded, New-WuerstchenImage -ExecutionProvider <provider>;
#   5. Benchmark gpu-nets: per-step time of stand-ins with the real v2 prior's and decoder's FLOPs per call at 1024²
#      (prior 2.30 TFLOP at batch 2, decoder 2.84 TFLOP at batch 1), fp32 and fp16, I/O on the host / on the device /
#      CUDA graphs, TFLOP/s against the card's peak, and peak device memory per network.
# --dry-run: the same steps, smaller (gpu-nets at 512² and 1/8 widths, generation at 512²), to check the script itself;
# with --provider Cpu it runs on any machine. Without a GPU, --provider Cuda (the default) stops in step 1.
# Exit status: 0 every step ran and passed; 1 a step failed or timed out; 2 bad arguments; 3 no usable NVIDIA GPU or
# driver (with --provider Cuda); 4 no .NET SDK. Logs: out/gpu-check/.

set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
BUDGET_S=${BUDGET_S:-470}
[[ $BUDGET_S =~ ^[0-9]+$ ]] || { echo "BUDGET_S '$BUDGET_S': use a number of seconds" >&2; exit 2; }
START=$SECONDS
PROVIDER=Cuda
DEVICE=0
DRY_RUN=0
while (( $# > 0 )); do
    case $1 in
        # a flag without its value is a usage error (exit 2), not a loop: `shift 2` fails when only the flag is left
        --provider|--device) (( $# >= 2 )) || { echo "$1 needs a value (see --help)" >&2; exit 2; }
            if [[ $1 == --provider ]]; then PROVIDER=$2; else DEVICE=$2; fi; shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h|--help) sed -n '2,24p' "$0" | grep -v '^set '; exit 0 ;;
        *) echo "unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case ${PROVIDER,,} in cuda) PROVIDER=Cuda ;; cpu) PROVIDER=Cpu ;; *) echo "--provider '$PROVIDER': use Cuda or Cpu" >&2; exit 2 ;; esac
[[ $DEVICE =~ ^[0-9]+$ ]] || { echo "--device '$DEVICE': use a device number" >&2; exit 2; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 ORT_DISABLE_TELEMETRY=1 NO_COLOR=1
LOG_DIR="$ROOT/out/gpu-check"
status=0
summary=()

say() { printf '\n== %s (%d s)\n' "$*" $((SECONDS - START)); }
left() { echo $((BUDGET_S - (SECONDS - START))); }
# run_step SECONDS LOGFILE command...: at most SECONDS and never past the budget; output to the terminal and LOGFILE
run_step() {
    local limit=$1 log=$2; shift 2
    local remaining; remaining=$(left)
    if (( remaining < 15 )); then echo "skipped: less than 15 s of the ${BUDGET_S} s budget left" | tee "$log"; return 124; fi
    (( limit > remaining )) && limit=$remaining
    timeout --kill-after=10 "$limit" "$@" > >(tee "$log") 2>&1
    local rc=$?
    (( rc == 124 || rc == 137 )) && echo "timed out after ${limit} s" | tee -a "$log"
    return "$rc"
}
fail() { status=1; summary+=("SUMMARY $1: FAILED ($2)"); }

say "GPU"
if [[ $PROVIDER == Cuda ]]; then
    if ! command -v nvidia-smi >/dev/null 2>&1 || ! timeout 20 nvidia-smi -L >/dev/null 2>&1; then
        echo "No usable NVIDIA GPU: nvidia-smi is missing or lists no GPU (no driver, or no device). This check needs a CUDA machine;"
        echo "scripts/gpu-check.sh --dry-run --provider Cpu runs its steps on the CPU."
        exit 3
    fi
    timeout 20 nvidia-smi --query-gpu=index,name,driver_version,memory.total,memory.used --format=csv,noheader
    timeout 20 nvidia-smi | grep -m1 'CUDA Version' || true
    . "$ROOT/scripts/gpu-libraries.sh"   # finds CUDA 13 / cuDNN 9 and extends LD_LIBRARY_PATH
else
    echo "--provider Cpu: no GPU needed (a check of the steps, not of CUDA)"
fi

say ".NET"
DOTNET=$(command -v dotnet || true)
[[ -z $DOTNET && -x $HOME/.dotnet/dotnet ]] && DOTNET=$HOME/.dotnet/dotnet
if [[ -z $DOTNET ]] || ! "$DOTNET" --list-sdks 2>/dev/null | grep -Eq '^([89]|[1-9][0-9])\.'; then
    echo "A .NET 8 or later SDK is needed (https://dot.net, or dotnet-install.sh); none found."
    exit 4
fi
"$DOTNET" --list-sdks | tail -n1

mkdir -p "$LOG_DIR"
rm -f "$LOG_DIR"/*.log "$LOG_DIR"/parity.txt
say "build: module, packages (main + Wuerstchen.Cuda.Linux), xunit tests, benchmark"
if run_step 60 "$LOG_DIR/tools.log" "$DOTNET" tool restore \
    && run_step 220 "$LOG_DIR/package.log" "$DOTNET" pwsh -NoProfile ./build.ps1 -Task Package -CompanionName Wuerstchen.Cuda.Linux \
    && run_step 150 "$LOG_DIR/build.log" "$DOTNET" build "$ROOT/tests/Wuerstchen.Core.Tests/Wuerstchen.Core.Tests.csproj" -c Release -nologo -v:q \
    && run_step 120 "$LOG_DIR/build-bench.log" "$DOTNET" build "$ROOT/tests/Benchmark/Benchmark.csproj" -c Release -nologo -v:q; then
    summary+=("$(grep -h '^Package file' "$LOG_DIR/package.log" | sed 's/^/SUMMARY package: /')")
else
    fail build "see $LOG_DIR/*.log"
    printf '%s\n' "${summary[@]}"; exit 1
fi

say "xunit tests, parity jobs on $PROVIDER"
if WUERSTCHEN_TEST_PROVIDER=$PROVIDER WUERSTCHEN_TEST_REPORT="$LOG_DIR/parity.txt" run_step 150 "$LOG_DIR/xunit.log" \
    "$DOTNET" test "$ROOT/tests/Wuerstchen.Core.Tests/Wuerstchen.Core.Tests.csproj" -c Release --no-build -nologo --logger 'console;verbosity=minimal'; then
    summary+=("SUMMARY xunit ($PROVIDER for the parity jobs and ProviderTests): $(grep -Eo 'Failed: +[0-9]+, Passed: +[0-9]+, Skipped: +[0-9]+' "$LOG_DIR/xunit.log" | tail -n1)")
else
    fail xunit "$(grep -Eo 'Failed: +[0-9]+, Passed: +[0-9]+' "$LOG_DIR/xunit.log" | tail -n1); see $LOG_DIR/xunit.log"
fi
if [[ -s $LOG_DIR/parity.txt ]]; then
    summary+=("$(awk -v p="$PROVIDER" '
        / embeddings relative / { n++; v = $6 + 0; if (v > e) e = v }
        / pixels max / { m = $6 + 0; if (m > px) px = m; over += $8 }
        END { printf "SUMMARY parity on %s: %d jobs against the CPU expected arrays: worst embeddings %.3g relative (tolerance 1e-3), worst pixel %d levels, %d values over 1 level (tolerance: 2 levels, at most 0.1 %% over 1)", p, n, e, px, over }' "$LOG_DIR/parity.txt")")
else
    fail parity "no parity figures were written (the parity tests did not run)"
fi

say "install: Install-PSResource Wuerstchen, Wuerstchen.Cuda.Linux; New-WuerstchenImage -ExecutionProvider $PROVIDER"
size=1024; (( DRY_RUN )) && size=512
if run_step 120 "$LOG_DIR/install.log" "$DOTNET" pwsh -NoProfile -File "$ROOT/scripts/gpu-install-check.ps1" -Provider "$PROVIDER" -Size "$size"; then
    summary+=("$(grep -h '^SUMMARY install' "$LOG_DIR/install.log" | tail -n1)")
else
    fail install "$(grep -h '^SUMMARY install' "$LOG_DIR/install.log" | tail -n1 | cut -c1-300); see $LOG_DIR/install.log"
fi

say "per-step time of the GPU-sized prior and decoder stand-ins"
dry=(); (( DRY_RUN )) && dry=(--dry-run)
run_step 200 "$LOG_DIR/gpu-nets.log" "$DOTNET" "$ROOT/tests/Benchmark/bin/Release/net8.0/Benchmark.dll" gpu-nets \
    --provider "$PROVIDER" --device "$DEVICE" --models "$ROOT/out/gpu-nets" "${dry[@]}" || fail gpu-nets "see $LOG_DIR/gpu-nets.log"
while IFS= read -r line; do summary+=("$line"); done < <(grep -h '^SUMMARY' "$LOG_DIR/gpu-nets.log")
rm -rf "$ROOT/out/gpu-nets"

say "summary"
printf '%s\n' "${summary[@]}"
echo "took $((SECONDS - START)) s (budget ${BUDGET_S} s); provider $PROVIDER$( (( DRY_RUN )) && echo ', dry run'); logs: $LOG_DIR"
exit $status
