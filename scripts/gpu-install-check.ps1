#requires -Version 7.4
<#
.SYNOPSIS
    Installs Wuerstchen and this OS's CUDA companion as a user does and generates with them (run by scripts/gpu-check.sh).
.DESCRIPTION
    Registers out/packages (written by build.ps1 -Task Package) as a PSResource repository, installs Wuerstchen and
    Wuerstchen.Cuda.Linux (or .Windows) with Install-PSResource into a fresh home and module path (a child pwsh: the
    user's own modules and repositories are not touched), imports the module by name, checks that it loaded the
    companion's GPU build (NativeRuntime.Current), and generates 1 image with -ExecutionProvider <Provider> on the
    stand-in models (models/standin), checking from -Verbose that every network ran on that provider.
    Prints one "SUMMARY install" line. Exit code 0 when all of that held, 1 otherwise.
.EXAMPLE
    dotnet pwsh scripts/gpu-install-check.ps1 -Provider Cuda
#>
[CmdletBinding()]
param(
    [ValidateSet('Cuda', 'Cpu')]
    [string] $Provider = 'Cuda',
    [ValidateRange(128, 4096)]
    [int] $Size = 1024,
    [string] $Packages = (Join-Path $PSScriptRoot '../out/packages'),
    [string] $Models = (Join-Path $PSScriptRoot '../models/standin')
)

$ErrorActionPreference = 'Stop'
$companion = if ($IsWindows) { 'Wuerstchen.Cuda.Windows' } else { 'Wuerstchen.Cuda.Linux' }
$Packages = (Resolve-Path $Packages).Path
$Models = (Resolve-Path $Models).Path
$work = New-Item -ItemType Directory (Join-Path ([IO.Path]::GetTempPath()) "wuerstchen-install-check-$PID") -Force
$modules = Join-Path $work 'home/.local/share/powershell/Modules'
$expected = if ($Provider -eq 'Cuda') { 'CUDA' } else { 'CPU' }
# paths go into the child's script as single-quoted strings: a quote in them is doubled (a checkout under /home/o'neil)
function Q([string] $Text) { $Text.Replace("'", "''") }
$modulesQ, $packagesQ, $modelsQ, $outQ = (Q $modules), (Q $Packages), (Q $Models), (Q "$work/out")
$child = @"
`$ErrorActionPreference = 'Stop'
`$null = New-Item -ItemType Directory '$modulesQ' -Force
Register-PSResourceRepository -Name WuerstchenCheck -Uri '$packagesQ' -Trusted
Install-PSResource -Name Wuerstchen, $companion -Repository WuerstchenCheck -TrustRepository -Scope CurrentUser
Import-Module Wuerstchen
`$clock = [Diagnostics.Stopwatch]::StartNew()
`$all = New-WuerstchenImage 'a lighthouse at dusk' -Seed 7 -Width $Size -Height $Size -PriorSteps 8 -DecoderSteps 4 -ModelPath '$modelsQ' -ExecutionProvider $Provider -OutputPath '$outQ' -Verbose 4>&1 3>&1
`$seconds = `$clock.Elapsed.TotalSeconds
`$native = [Wuerstchen.PowerShell.Loading.NativeRuntime]::Current
`$loads = @(`$all | Where-Object { `$_ -is [Management.Automation.VerboseRecord] -and `$_.Message -match 'network loaded on' } | ForEach-Object Message)
[pscustomobject]@{
    Versions = @(Get-Module Wuerstchen | ForEach-Object { "Wuerstchen `$(`$_.Version)" }) + @(Get-Module -ListAvailable $companion | ForEach-Object { "$companion `$(`$_.Version)" })
    Source = `$native.Source; Folder = `$native.Folder; Files = @(`$all | Where-Object { `$_ -is [IO.FileInfo] }).Count; Seconds = `$seconds
    Loads = `$loads; Warnings = @(`$all | Where-Object { `$_ -is [Management.Automation.WarningRecord] } | ForEach-Object Message)
} | ConvertTo-Json -Compress
"@

$saved = @{}
$environment = @{ HOME = (Join-Path $work 'home'); XDG_DATA_HOME = (Join-Path $work 'home/.local/share'); PSModulePath = $modules; WUERSTCHEN_CUDA_PATH = $null; WUERSTCHEN_TEST_MODULE = $null }
foreach ($k in $environment.Keys) { $saved[$k] = [Environment]::GetEnvironmentVariable($k); [Environment]::SetEnvironmentVariable($k, $environment[$k]) }
try {
    # the same PowerShell as this one (as a dotnet tool the process is dotnet + pwsh.dll)
    $exe = [Environment]::ProcessPath
    $prefix = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
    $lines = & $exe @prefix -NoProfile -NonInteractive -Command $child 2>&1 | ForEach-Object { "$_" }
}
finally {
    foreach ($k in $saved.Keys) { [Environment]::SetEnvironmentVariable($k, $saved[$k]) }
}

$json = $lines | Where-Object { $_ -like '{*' } | Select-Object -Last 1
if (-not $json) {
    $lines | Select-Object -Last 20 | ForEach-Object { Write-Host $_ }
    Write-Host "SUMMARY install: FAILED (the child pwsh printed no result; output above)"
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
    exit 1
}

$r = $json | ConvertFrom-Json
$problems = @(
    if ($r.Source -ne 'CudaCompanion') { "the module loaded ONNX Runtime from $($r.Source) ('$($r.Folder)'), not from $companion" }
    if ($r.Files -ne 1) { "$($r.Files) images written, expected 1" }
    $wrong = @($r.Loads | Where-Object { $_ -notmatch "loaded on $expected " })
    if (@($r.Loads).Count -eq 0 -or $wrong.Count -gt 0) { "networks not on ${expected}: $($wrong -join '; ')" }
    if (@($r.Warnings).Count -gt 0) { "warnings: $($r.Warnings -join '; ')" }
)
$verdict = if ($problems.Count -eq 0) { 'ok' } else { 'FAILED: ' + ($problems -join '; ') }
Write-Host ("SUMMARY install: {0}; {1}; ONNX Runtime from {2}; New-WuerstchenImage -ExecutionProvider {3} {4}x{4} (prior 8, decoder 4 steps, stand-in models) in {5:F1} s with {6} networks on {7}: {8}" -f
    ($r.Versions -join ' + '), 'Install-PSResource from a local repository into a fresh module path', $r.Folder, $Provider, $Size, $r.Seconds, @($r.Loads).Count, $expected, $verdict)
Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
exit $(if ($problems.Count -eq 0) { 0 } else { 1 })
