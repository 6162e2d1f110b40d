# Sourced by scripts/gpu-check.sh: finds the CUDA 13 and cuDNN 9 libraries ONNX Runtime 1.31's CUDA provider loads,
# in the usual places (CUDA toolkit, distribution packages, pip's nvidia-* wheels), and puts their folders in front
# of LD_LIBRARY_PATH; names the missing ones (the run then says what fails to load).
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
(( ${#missing[@]} > 0 )) && echo "missing: ${missing[*]} (ONNX Runtime 1.31's CUDA provider needs CUDA 13 and cuDNN 9; the run below will say what fails to load)" || true
