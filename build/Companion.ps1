# The CUDA companions, dot-sourced by build.ps1 (-Task Package, -Task Test): Wuerstchen.Cuda.Linux and
# Wuerstchen.Cuda.Windows, installable module packages that hold ONNX Runtime's GPU build for one OS in
# runtimes/<rid>/native, as the loader looks for it on PSModulePath (src/Wuerstchen.PowerShell.Loader/NativeRuntime.cs):
# the core library, providers_shared and providers_cuda (TensorRT's provider is left out: the module never asks for it)
# and onnxruntime.version. Their module version is the ONNX Runtime version, so "which runtime" is the version number.
# The CUDA provider does not fit the main package (271 MB on Linux); the PowerShell Gallery refused a 267.9 MB
# package and accepted a 255.9 MB one, so each companion must compress to under 250 MB (checked here).

$script:CompanionLimitBytes = 250e6   # decimal MB: the stricter reading of the gallery's figures
$script:Companions = [ordered]@{
    'Wuerstchen.Cuda.Linux'   = @{ NuGet = 'microsoft.ml.onnxruntime.gpu.linux'; Rid = 'linux-x64'; Os = 'Linux'; Guid = '0b8e2d1c-6f3a-4c57-9a41-3e5d7c2b8f16' }
    'Wuerstchen.Cuda.Windows' = @{ NuGet = 'microsoft.ml.onnxruntime.gpu.windows'; Rid = 'win-x64'; Os = 'Windows'; Guid = '7c4a9e3b-2d18-4f6e-8b05-1a9f6d3c5e27' }
}

# The companion of this OS (the one the loader looks for here), or $null on an OS without one.
function Get-ThisOsCompanion {
    if ($IsWindows) { 'Wuerstchen.Cuda.Windows' } elseif ($IsLinux) { 'Wuerstchen.Cuda.Linux' } else { $null }
}

# Lays out one companion module folder under out/package/<name> from the restored NuGet package; returns the folder.
function New-CompanionFolder([string] $Name, [string] $OrtVersion, [string] $NuGetFolder, [string] $Out) {
    $spec = $Companions[$Name]
    $source = Join-Path $NuGetFolder "$($spec.NuGet)/$OrtVersion"
    if (-not (Test-Path $source)) { throw "The NuGet package $($spec.NuGet) $OrtVersion was not restored to '$source' (build/PackageInputs.csproj downloads it)." }
    $stage = Join-Path $Out "package/$Name"
    if (Test-Path $stage) { Remove-Item $stage -Recurse -Force }
    $native = New-Item -ItemType Directory (Join-Path $stage "runtimes/$($spec.Rid)/native") -Force
    Get-ChildItem (Join-Path $source "runtimes/$($spec.Rid)/native") -File |
        Where-Object { $_.Extension -ne '.lib' -and $_.Name -notlike '*tensorrt*' } |
        Copy-Item -Destination $native
    Set-Content -Path (Join-Path $native 'onnxruntime.version') -Value $OrtVersion -NoNewline
    Copy-Item (Join-Path $source 'LICENSE'), (Join-Path $source 'ThirdPartyNotices.txt') -Destination $stage
    $manifest = @{
        Path                 = Join-Path $stage "$Name.psd1"
        ModuleVersion        = $OrtVersion
        Guid                 = $spec.Guid
        Author               = 'Wuerstchen.PowerShell contributors'
        CompanyName          = 'Wuerstchen.PowerShell'
        Copyright            = 'ONNX Runtime: (c) Microsoft Corporation, MIT licence (LICENSE, ThirdPartyNotices.txt).'
        Description          = "ONNX Runtime $OrtVersion's GPU build (CUDA execution provider) for $($spec.Os) x64, for the Wuerstchen module: Install-PSResource Wuerstchen, $Name. Needs an NVIDIA driver for CUDA 13, the CUDA 13 runtime and cuDNN 9. No commands of its own; Wuerstchen finds it on PSModulePath."
        PowerShellVersion    = '7.4'
        CompatiblePSEditions = @('Core')
        FunctionsToExport    = @(); CmdletsToExport = @(); VariablesToExport = @(); AliasesToExport = @()
        Tags                 = @('Wuerstchen', 'CUDA', 'GPU', 'OnnxRuntime', 'PSEdition_Core', $spec.Os)
        ProjectUri           = 'https://github.com/wuerstchen-powershell/Wuerstchen.PowerShell'
        LicenseUri           = 'https://github.com/microsoft/onnxruntime/blob/main/LICENSE'
        ReleaseNotes         = "ONNX Runtime $OrtVersion (Microsoft.ML.OnnxRuntime.Gpu.$($spec.Os)): core library, providers_shared, providers_cuda."
    }
    New-ModuleManifest @manifest
    $stage
}

# Packs a companion folder; prints its size and fails when it does not fit the gallery's limit.
function New-CompanionPackage([string] $Stage, [string] $Packages) {
    $name = Split-Path $Stage -Leaf
    $version = (Import-PowerShellDataFile (Join-Path $Stage "$name.psd1")).ModuleVersion
    Compress-PSResource -Path $Stage -DestinationPath $Packages
    $nupkg = Join-Path $Packages "$name.$version.nupkg"
    if (-not (Test-Path $nupkg)) { throw "Compress-PSResource did not write '$nupkg'." }
    $installed = (Get-ChildItem $Stage -Recurse -File | Measure-Object Length -Sum).Sum
    $length = (Get-Item $nupkg).Length
    Write-Host ('Package file: {0} ({1:N1} MB = {2:N1} MiB, {3:N0} bytes; limit: under {4:N0} MB; {5:N1} MiB installed)' -f $nupkg, ($length / 1e6), ($length / 1MB), $length, ($CompanionLimitBytes / 1e6), ($installed / 1MB))
    if ($length -ge $CompanionLimitBytes) {
        throw "$name.$version.nupkg is $([math]::Round($length / 1e6, 1)) MB, over the $($CompanionLimitBytes / 1e6) MB limit: split the CUDA provider into a package of its own."
    }
    $nupkg
}
