#!/usr/bin/env bash
# The GPU check against the CUDA libtorch that PyTorch installs (no CUDA libtorch package is needed):
#   benchmarks/Torch/gpu-check.sh [--device cuda|cpu] [--size small|full] [--steps N]
# Run from a repository checkout (it builds the harness without any libtorch package, needs the .NET 10 SDK), or from
# an unpacked self-contained publish (the script sits next to the SpectralMonitor.Benchmarks.Torch executable; no SDK).
# PYTHON selects the interpreter whose torch package to use (default python3). Exit code: 0 all checks passed,
# 1 a check failed, 2 bad arguments or no usable CUDA.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
if ! torch_dir="$("$python" -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null)"; then
  echo "gpu-check.sh: '$python' cannot import torch; install PyTorch with CUDA (pip install torch) or set PYTHON." >&2
  exit 2
fi

# libtorch (torch/lib) and the CUDA libraries PyTorch's wheels bring (site-packages/nvidia/*/lib).
libraries="$torch_dir/lib"
for directory in "$(dirname "$torch_dir")"/nvidia/*/lib; do
  if [ -d "$directory" ]; then libraries="$libraries:$directory"; fi
done
export LD_LIBRARY_PATH="$libraries${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

if [ -x "$here/SpectralMonitor.Benchmarks.Torch" ]; then
  exec "$here/SpectralMonitor.Benchmarks.Torch" gpu-check "$@"
fi

# From the repository: publish the harness with the TorchSharp package only (managed code and its native bridge, no
# libtorch) into its own folder, so that PyTorch's libtorch is the one loaded.
out="$here/bin/gpu-check"
dotnet publish "$here/Torch.Benchmarks.csproj" -c Release -p:TorchSharpTestPackage=TorchSharp -o "$out" >&2
exec dotnet "$out/SpectralMonitor.Benchmarks.Torch.dll" gpu-check "$@"
