#requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests, demonstrates and benchmarks the Wuerstchen module.
.DESCRIPTION
    Build  (default) builds the module into out/Wuerstchen (manifest, assemblies, native ONNX Runtime for this OS, help).
    Test   builds, runs the xunit tests and the Pester tests (in a child pwsh), prints "N passed, N failed", exits non-zero on failure.
    Package builds and writes the installable module package out/packages/Wuerstchen.<version>.nupkg (version: the manifest's), with ONNX Runtime's CPU build for win-x64, linux-x64 and osx-arm64, and prints its size per OS;
           and the CUDA companions Wuerstchen.Cuda.Linux and Wuerstchen.Cuda.Windows (ONNX Runtime's GPU build, build/Companion.ps1), each checked to be under 250 MB.
    Demo   builds and runs New-WuerstchenImage on the bundled stand-in model set (models/standin; abstract patterns, not real pictures).
    Bench  builds and runs the benchmark (tests/Benchmark), printing its figures; -BenchArgs '--provider Cuda', '--quick', '--help' …
    Clean  removes out/ and the bin/obj folders.
.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Package', 'Demo', 'Bench', 'Clean')]
    [string] $Task = 'Build',
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',
    # Extra arguments for the benchmark, e.g. -BenchArgs '--quick' or -BenchArgs '--provider Cuda --repeat 3'
    # (an element starting with -- that holds spaces or commas is split, so one quoted string works from bash).
    [string[]] $BenchArgs = @(),
    # -Task Package: which CUDA companions to write (default both), e.g. -CompanionName Wuerstchen.Cuda.Linux (scripts/gpu-check.sh)
    [ValidateSet('Wuerstchen.Cuda.Linux', 'Wuerstchen.Cuda.Windows')]
    [string[]] $CompanionName = @('Wuerstchen.Cuda.Linux', 'Wuerstchen.Cuda.Windows')
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'
$env:ORT_DISABLE_TELEMETRY = '1'
$env:NO_COLOR = '1'
$PSStyle.OutputRendering = 'PlainText'
$root = $PSScriptRoot
$out = Join-Path $root 'out'
. (Join-Path $root 'build/Companion.ps1')
$moduleOut = Join-Path $out 'Wuerstchen'

function Invoke-Native([string] $what, [scriptblock] $command) {
    & $command
    if ($LASTEXITCODE -ne 0) { throw "$what failed (exit code $LASTEXITCODE)." }
}

# Runs a child pwsh: the same PowerShell as this one (as a dotnet tool the process is dotnet + pwsh.dll).
function Invoke-ChildPwsh([string[]] $Arguments) {
    $exe = [Environment]::ProcessPath
    if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') {
        & $exe (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive @Arguments
    }
    else {
        & $exe -NoProfile -NonInteractive @Arguments
    }
}

function Get-Rid {
    $arch = [System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture.ToString().ToLowerInvariant()
    if ($IsWindows) { "win-$arch" } elseif ($IsMacOS) { "osx-$arch" } else { "linux-$arch" }
}

function Get-NuGetPackagesFolder {
    if ($env:NUGET_PACKAGES) { return $env:NUGET_PACKAGES }
    $line = (& dotnet nuget locals global-packages --list) -join "`n"
    if ($line -match 'global-packages:\s*(.+)') { return $Matches[1].Trim() }
    Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages'
}

# The module layout the loader expects (src/Wuerstchen.PowerShell/Loading/ModuleLayout.cs): the cmdlet assembly at
# the root, its managed dependencies in dependencies/ (loaded into the module's own AssemblyLoadContext, so other
# versions in the session do not clash), ONNX Runtime's native libraries in runtimes/<rid>/native/.
function Copy-ModuleLayout([string] $Publish, [string] $Destination, [string] $Rid) {
    $dependencies = New-Item -ItemType Directory -Path (Join-Path $Destination 'dependencies') -Force
    $native = New-Item -ItemType Directory -Path (Join-Path $Destination "runtimes/$Rid/native") -Force
    foreach ($file in Get-ChildItem $Publish -File) {
        if ($file.Name -like '*onnxruntime*' -and $file.Extension -ne '.dll' -or $file.Name -like 'onnxruntime*.dll') {
            Copy-Item $file.FullName -Destination $native   # native (publish -r lays them out flat)
        }
        elseif ($file.Name -like 'Wuerstchen.PowerShell.*' -and $file.Extension -in '.dll', '.xml') {
            Copy-Item $file.FullName -Destination $Destination
        }
        elseif ($file.Extension -eq '.dll') {
            Copy-Item $file.FullName -Destination $dependencies
        }
    }
}

function Invoke-Build {
    $rid = Get-Rid
    Write-Host "Building Wuerstchen ($Configuration, $rid) ..."
    $publish = Join-Path $out "publish-$rid"
    # the loader (manifest NestedModule, AssemblyLoadContext set-up) references nothing of the rest, so it is published on its own
    foreach ($project in 'src/Wuerstchen.PowerShell/Wuerstchen.PowerShell.csproj', 'src/Wuerstchen.PowerShell.Loader/Wuerstchen.PowerShell.Loader.csproj') {
        Invoke-Native 'dotnet publish' {
            dotnet publish (Join-Path $root $project) -c $Configuration -r $rid --self-contained false -o $publish -p:GenerateRuntimeConfigurationFiles=false -nologo -v:q
        }
    }
    if (Test-Path $moduleOut) { Remove-Item $moduleOut -Recurse -Force }
    $null = New-Item -ItemType Directory -Path $moduleOut -Force
    Copy-ModuleLayout -Publish $publish -Destination $moduleOut -Rid $rid
    Get-ChildItem -Path (Join-Path $root 'module/*') -File -Include *.psd1, *.ps1xml | Copy-Item -Destination $moduleOut
    # help for Get-Help, generated from module/help/Wuerstchen.help.psd1 and the cmdlets' metadata (in a child pwsh: the dll stays locked)
    Invoke-ChildPwsh @('-File', (Join-Path $root 'module/New-MamlHelp.ps1'), '-ModuleFolder', $moduleOut)
    if ($LASTEXITCODE -ne 0) { throw "Help generation failed (exit code $LASTEXITCODE)." }
    # conceptual help (Get-Help about_Wuerstchen)
    Copy-Item -Path (Join-Path $root 'module/help/about_Wuerstchen.help.txt') -Destination (Join-Path $moduleOut 'en-US')
    Write-Host "Module built: $moduleOut"
}

# The package: the module built here, with ONNX Runtime's CPU build for every OS it serves in runtimes/<rid>/native
# (the loader picks this OS's). The version is the manifest's; the native version is the managed assembly's.
$script:PackageRids = @('win-x64', 'linux-x64', 'osx-arm64')

function New-PackageFolder([string[]] $Companion) {
    $gpu = @("-p:CudaLinux=$('Wuerstchen.Cuda.Linux' -in $Companion)", "-p:CudaWindows=$('Wuerstchen.Cuda.Windows' -in $Companion)")
    Invoke-Native 'restore package inputs' { dotnet restore (Join-Path $root 'build/PackageInputs.csproj') @gpu -nologo -v:q }
    $stage = Join-Path $out 'package/Wuerstchen'
    if (Test-Path $stage) { Remove-Item $stage -Recurse -Force }
    $null = New-Item -ItemType Directory $stage -Force
    Get-ChildItem $moduleOut | Where-Object Name -ne 'runtimes' | Copy-Item -Destination $stage -Recurse
    Copy-Item (Join-Path $root 'CHANGELOG.md'), (Join-Path $root 'LICENSE') -Destination $stage
    $ortVersion = ([Reflection.AssemblyName]::GetAssemblyName((Join-Path $stage 'dependencies/Microsoft.ML.OnnxRuntime.dll')).Version).ToString(3)
    $natives = Join-Path (Get-NuGetPackagesFolder) "microsoft.ml.onnxruntime/$ortVersion/runtimes"
    foreach ($rid in $PackageRids) {
        $target = New-Item -ItemType Directory (Join-Path $stage "runtimes/$rid/native") -Force
        Get-ChildItem (Join-Path $natives "$rid/native") -File | Where-Object Extension -ne '.lib' | Copy-Item -Destination $target
    }
    $stage
}

function Write-PackageSize([string] $Stage, [string] $Nupkg) {
    $common = (Get-ChildItem $Stage -Recurse -File | Where-Object FullName -notlike (Join-Path $Stage 'runtimes*') | Measure-Object Length -Sum).Sum
    foreach ($rid in $PackageRids) {
        $native = (Get-ChildItem (Join-Path $Stage "runtimes/$rid") -Recurse -File | Measure-Object Length -Sum).Sum
        Write-Host ('Package size {0}: {1:N1} MB installed for this OS ({2:N1} MB native ONNX Runtime + {3:N1} MB module)' -f $rid, (($common + $native) / 1MB), ($native / 1MB), ($common / 1MB))
    }
    Write-Host ('Package file: {0} ({1:N1} MB, all OSes)' -f $Nupkg, ((Get-Item $Nupkg).Length / 1MB))
}

# Writes the main package and the CUDA companions named (all of them for -Task Package; the test run builds only
# this OS's, which its install test uses). Returns the main package's folder and the companions' .nupkg files.
function Invoke-Package([switch] $NoBuild, [string[]] $Companion = @($Companions.Keys)) {
    if (-not $NoBuild) { Invoke-Build }
    $stage = New-PackageFolder -Companion $Companion
    $packages = Join-Path $out 'packages'
    if (Test-Path $packages) { Remove-Item $packages -Recurse -Force }
    $null = New-Item -ItemType Directory $packages -Force
    $version = (Import-PowerShellDataFile (Join-Path $stage 'Wuerstchen.psd1')).ModuleVersion
    Compress-PSResource -Path $stage -DestinationPath $packages
    $nupkg = Join-Path $packages "Wuerstchen.$version.nupkg"
    if (-not (Test-Path $nupkg)) { throw "Compress-PSResource did not write '$nupkg'." }
    Write-PackageSize $stage $nupkg
    $ortVersion = ([Reflection.AssemblyName]::GetAssemblyName((Join-Path $stage 'dependencies/Microsoft.ML.OnnxRuntime.dll')).Version).ToString(3)
    $companionPackages = foreach ($name in $Companion | Where-Object { $_ }) {
        $folder = New-CompanionFolder -Name $name -OrtVersion $ortVersion -NuGetFolder (Get-NuGetPackagesFolder) -Out $out
        New-CompanionPackage -Stage $folder -Packages $packages | Select-Object -Last 1
        Remove-Item $folder -Recurse -Force   # 300 MB of copies; the .nupkg is what is tested and shipped
    }
    [pscustomobject]@{ Main = $stage; Companions = @($companionPackages) }
}

function Get-TrxCounts([string] $folder) {
    $passed = 0; $failed = 0
    foreach ($file in Get-ChildItem $folder -Filter *.trx -Recurse -ErrorAction SilentlyContinue) {
        [xml] $trx = Get-Content $file.FullName -Raw
        $counters = $trx.TestRun.ResultSummary.Counters
        $passed += [int] $counters.passed
        $failed += [int] $counters.failed + [int] $counters.error + [int] $counters.timeout + [int] $counters.aborted
    }
    [pscustomobject]@{ Passed = $passed; Failed = $failed }
}

# The one place the tests' Debian packages are installed: as root on a machine with apt-get (CI), the packages are
# installed when a test needs them and they are missing. $null: not such a machine (the test then says it did not run);
# $false: apt-get failed (counted as a failure).
function Install-DebianPackage([string[]] $Name, [string] $For) {
    if (-not ($IsLinux -and (id -u) -eq '0' -and (Get-Command apt-get -ErrorAction SilentlyContinue))) { return $null }
    Write-Host "Installing $($Name -join ', ') (apt-get) for $For ..."
    $env:DEBIAN_FRONTEND = 'noninteractive'
    if (-not $script:AptUpdated) { & apt-get update -qq | Out-Null; $script:AptUpdated = $true }
    & apt-get install -y -qq @Name | Out-Null
    if ($LASTEXITCODE -ne 0) { Write-Host "apt-get could not install $($Name -join ', ')."; return $false }
    $true
}
$script:AptUpdated = $false

function Invoke-PythonTests {
    # The exporter's unittest suite (models/export/tests). It needs Python 3 with torch and onnx: as root with apt
    # (CI) Debian's python3-torch/python3-onnx are installed when missing; elsewhere a missing torch/onnx is said
    # plainly and counted as not run (the exporter is optional tooling; the module's tests do not need Python).
    $runner = Join-Path $root 'models/export/tests/run_tests.py'
    $probe = 'import torch, onnx'
    $python = @('/usr/bin/python3', 'python3') | Where-Object { Get-Command $_ -ErrorAction SilentlyContinue } |
        Where-Object { & $_ -c $probe 2>$null; $LASTEXITCODE -eq 0 } | Select-Object -First 1
    if (-not $python) {
        $installed = Install-DebianPackage -Name python3-torch, python3-onnx, python3-numpy -For 'the exporter tests'
        if ($installed -eq $false) { return [pscustomobject]@{ Passed = 0; Failed = 1 } }
        if ($installed) { $python = '/usr/bin/python3' }
    }
    if (-not $python) {
        Write-Host 'Python exporter tests NOT RUN: no python3 with torch and onnx (install python3-torch and python3-onnx, or run as root with apt).'
        return [pscustomobject]@{ Passed = 0; Failed = 0 }
    }
    Write-Host "Running the exporter's Python tests ($python) ..."
    $lines = & $python $runner 2>&1 | ForEach-Object { "$_" }
    $exit = $LASTEXITCODE
    $lines | Select-Object -Last 15 | ForEach-Object { Write-Host $_ }
    $last = $lines | Where-Object { $_ -match '^python: (\d+) passed, (\d+) failed$' } | Select-Object -Last 1
    if (-not $last) { return [pscustomobject]@{ Passed = 0; Failed = 1 } }
    $counts = [pscustomobject]@{ Passed = [int] $Matches[1]; Failed = [int] $Matches[2] }
    if ($exit -ne 0 -and $counts.Failed -eq 0) { $counts.Failed = 1 }
    $counts
}

function Invoke-Test {
    Invoke-Build
    $results = Join-Path $out 'test-results'
    if (Test-Path $results) { Remove-Item $results -Recurse -Force }
    $null = New-Item -ItemType Directory $results -Force

    Write-Host 'Running xunit tests ...'
    & dotnet test (Join-Path $root 'tests/Wuerstchen.Core.Tests/Wuerstchen.Core.Tests.csproj') -c $Configuration -nologo `
        --logger "trx;LogFileName=xunit.trx" --logger 'console;verbosity=minimal' --results-directory $results
    $xunitExit = $LASTEXITCODE
    $xunit = Get-TrxCounts $results
    if ($xunitExit -ne 0 -and $xunit.Failed -eq 0) { $xunit.Failed = 1; Write-Host 'xunit run failed before reporting results.' }

    Write-Host 'Running Pester tests (child pwsh) ...'
    $pester = Join-Path (Get-NuGetPackagesFolder) 'pester/5.7.1/tools/Pester.psd1'
    if (-not (Test-Path $pester)) { throw "Pester 5.7.1 was not restored to '$pester'." }
    $pesterResult = Join-Path $results 'pester.json'
    $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$pester' -RequiredVersion 5.7.1
`$c = New-PesterConfiguration
`$c.Run.Path = '$(Join-Path $root 'tests/Pester')'
`$c.Run.PassThru = `$true
`$c.Output.Verbosity = 'Normal'
`$c.Output.RenderMode = 'Plaintext'
`$r = Invoke-Pester -Configuration `$c
[pscustomobject]@{ Passed = `$r.PassedCount; Failed = `$r.FailedCount + `$r.FailedBlocksCount + `$r.FailedContainersCount } | ConvertTo-Json | Set-Content '$pesterResult'
"@
    $env:WUERSTCHEN_TEST_MODULE = $moduleOut
    # the package folder the install test publishes (tests/Pester/Package.Tests.ps1), this OS's CUDA companion package
    # (its .nupkg, next to the main package's), and where NuGet keeps packages
    $packageStages = Invoke-Package -NoBuild -Companion (Get-ThisOsCompanion) | Select-Object -Last 1
    $env:WUERSTCHEN_TEST_PACKAGE = $packageStages.Main
    $env:WUERSTCHEN_TEST_COMPANION = @($packageStages.Companions) | Select-Object -First 1
    $env:WUERSTCHEN_TEST_NUGET = Get-NuGetPackagesFolder
    # the remoting test (tests/Pester/ScaleOut.Remoting.Tests.ps1) starts its own OpenSSH servers on localhost ports;
    # without sshd it is skipped, saying why
    $sshd = if ($IsLinux -and -not (Test-Path /usr/sbin/sshd) -and -not (Get-Command sshd -ErrorAction SilentlyContinue)) {
        Install-DebianPackage -Name openssh-server -For 'the remoting test'
    }
    Invoke-ChildPwsh @('-Command', $script)
    $pesterExit = $LASTEXITCODE
    $pesterCounts = if (Test-Path $pesterResult) { Get-Content $pesterResult -Raw | ConvertFrom-Json } else { [pscustomobject]@{ Passed = 0; Failed = 1 } }
    if ($pesterExit -ne 0 -and $pesterCounts.Failed -eq 0) { $pesterCounts.Failed = 1 }
    if ($sshd -eq $false) { $pesterCounts.Failed += 1; Write-Host 'apt-get could not install openssh-server: the remoting test was skipped (counted as a failure).' }

    $py = Invoke-PythonTests
    $passed = $xunit.Passed + $pesterCounts.Passed + $py.Passed
    $failed = $xunit.Failed + $pesterCounts.Failed + $py.Failed
    Write-Host "xunit: $($xunit.Passed) passed, $($xunit.Failed) failed; Pester: $($pesterCounts.Passed) passed, $($pesterCounts.Failed) failed; Python: $($py.Passed) passed, $($py.Failed) failed"
    Write-Host "$passed passed, $failed failed"
    if ($failed -gt 0) { exit 1 }
}

function Invoke-Demo {
    Invoke-Build
    $env:WUERSTCHEN_MODEL_PATH = Join-Path $root 'models/standin'
    $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$moduleOut'
Write-Host 'Stand-in model set (models/standin): small analytic networks with the real inputs and outputs. They draw abstract patterns, not real pictures.'
New-WuerstchenImage -Prompt 'a photo of a cat', 'a lighthouse at dusk' -Width 512 -Height 512 -Seed 42 -ExecutionProvider Cpu -OutputPath '$(Join-Path $out 'demo')' -Force |
    Format-Table Name, Length, Prompt, Seed -AutoSize | Out-String | Write-Host
Write-Host "Written to $(Join-Path $out 'demo')"
"@
    Invoke-ChildPwsh @('-Command', $script)
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}

function Invoke-Bench {
    Invoke-Build
    # one string ('--provider Cuda --quick') is split into words as a shell would: quotes keep a path with spaces or
    # commas whole ('--model "/my models/v2"'); array elements (-BenchArgs '--model', '/my models/v2') pass as they are
    $arguments = @(foreach ($a in $BenchArgs) {
            if ($a -like '--*' -and $a -match '\s') {
                [regex]::Matches($a, '"([^"]*)"|''([^'']*)''|(\S+)') | ForEach-Object { ($_.Groups[1..3] | Where-Object Success | Select-Object -First 1).Value }
            }
            else { $a }
        })
    Invoke-Native 'benchmark' { dotnet run --project (Join-Path $root 'tests/Benchmark/Benchmark.csproj') -c Release -- @arguments }
}

switch ($Task) {
    'Build' { Invoke-Build }
    'Test' { Invoke-Test }
    'Package' { $null = Invoke-Package -Companion $CompanionName }
    'Demo' { Invoke-Demo }
    'Bench' { Invoke-Bench }
    'Clean' {
        foreach ($p in @($out) + (Get-ChildItem $root -Directory -Recurse -Include bin, obj | ForEach-Object FullName)) {
            if (Test-Path $p) { Remove-Item $p -Recurse -Force }
        }
    }
}
