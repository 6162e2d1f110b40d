# The module as a user gets it: installed from a PSResource repository, beside other versions of its
# dependencies, with and without the CUDA companion. Each case runs in a child pwsh (a load context and a
# native library cannot be unloaded, and the install must not see out/).
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Nuget = if ($env:WUERSTCHEN_TEST_NUGET) { $env:WUERSTCHEN_TEST_NUGET } else { Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages' }
    $script:PackageStage = $env:WUERSTCHEN_TEST_PACKAGE
    $script:CompanionNupkg = $env:WUERSTCHEN_TEST_COMPANION

    # Runs a script in a fresh pwsh with the given environment; returns its last line parsed as JSON.
    function Invoke-Child([string] $Script, [hashtable] $Environment = @{}, [string] $WorkingDirectory = $TestDrive) {
        $saved = @{}
        foreach ($k in $Environment.Keys) { $saved[$k] = [Environment]::GetEnvironmentVariable($k); [Environment]::SetEnvironmentVariable($k, $Environment[$k]) }
        $exe = [Environment]::ProcessPath
        $prefix = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
        Push-Location $WorkingDirectory
        try { $lines = & $exe @prefix -NoProfile -NonInteractive -Command $Script 2>&1 | ForEach-Object { "$_" } }
        finally {
            Pop-Location
            foreach ($k in $saved.Keys) { [Environment]::SetEnvironmentVariable($k, $saved[$k]) }
        }
        $json = $lines | Where-Object { $_ -like '{*' } | Select-Object -Last 1
        if (-not $json) { throw "child pwsh printed no result:`n$($lines -join "`n")" }
        $json | ConvertFrom-Json
    }
}

Describe 'Dependencies in their own AssemblyLoadContext' {
    It 'generates after another version of ONNX Runtime''s managed assembly was loaded into the session first' {
        $other = Join-Path $Nuget 'microsoft.ml.onnxruntime.managed/1.30.0/lib/net8.0/Microsoft.ML.OnnxRuntime.dll'
        $other | Should -Exist -Because 'build.ps1 restores build/PackageInputs.csproj, which downloads ONNX Runtime 1.30 for this test'
        $r = Invoke-Child @"
`$ErrorActionPreference = 'Stop'
Add-Type -Path '$other'
Import-Module '$(Join-Path $ModulePath 'Wuerstchen.psd1')'
`$f = New-WuerstchenImage 'a red fox' -Seed 7 -Width 128 -Height 128 -PriorSteps 2 -DecoderSteps 2 -ModelPath '$Models' -ExecutionProvider Cpu -OutputPath '$TestDrive/alc'
`$ort = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'Microsoft.ML.OnnxRuntime' } |
    ForEach-Object { '{0}@{1}' -f `$_.GetName().Version, [Runtime.Loader.AssemblyLoadContext]::GetLoadContext(`$_).Name }
[pscustomobject]@{ File = `$f.FullName; Length = `$f.Length; Ort = @(`$ort | Sort-Object) } | ConvertTo-Json -Compress
"@
        $r.Length | Should -BeGreaterThan 0
        $r.File | Should -Exist
        $r.Ort | Should -Be @('1.30.0.0@Default', '1.31.0.0@Wuerstchen')
    }
}

Describe 'Native runtime choice (CUDA companion)' {
    BeforeAll {
        $script:Layout = [Wuerstchen.PowerShell.Loading.ModuleLayout]::new($ModulePath)
        $script:Core = [Wuerstchen.PowerShell.Loading.ModuleLayout]::CoreLibraryFileName
        $script:Rid = [Wuerstchen.PowerShell.Loading.ModuleLayout]::Rid
        $script:Companion = [Wuerstchen.PowerShell.Loading.NativeRuntime]::CompanionModuleName
        # a stand-in core library the loader's header check accepts: the module's own library's first 4 KB (this OS's
        # format, this CPU), then sparse to 8 MB
        function New-CoreLibrary([string] $Path, [byte[]] $Header) {
            $bytes = [byte[]]::new(4096)
            $stream = [IO.File]::OpenRead((Join-Path $Layout.NativeFolder $Core))
            try { $null = $stream.Read($bytes, 0, $bytes.Length) } finally { $stream.Dispose() }
            if ($Header) { [Array]::Copy($Header, $bytes, $Header.Length) }
            $out = [IO.File]::Create($Path)
            try { $out.Write($bytes, 0, $bytes.Length); $out.SetLength(8MB) } finally { $out.Dispose() }
        }
        function New-Companion([string] $Root, [string] $Version, [string] $OrtVersion) {
            $native = New-Item -ItemType Directory (Join-Path $Root "$Companion/$Version/runtimes/$Rid/native") -Force
            New-CoreLibrary (Join-Path $native $Core)
            if ($OrtVersion) { Set-Content (Join-Path $native 'onnxruntime.version') $OrtVersion }
            $native.FullName
        }
    }

    It 'uses the module''s own CPU build when no companion is installed' {
        $c = [Wuerstchen.PowerShell.Loading.NativeRuntime]::Choose($Layout, $null, (Join-Path $TestDrive 'empty'))
        $c.Source | Should -Be 'Module'
        $c.Folder | Should -Be $Layout.NativeFolder
    }

    It 'finds the companion on PSModulePath, highest version first, and skips one built for another ONNX Runtime' {
        $modules = Join-Path $TestDrive 'modules'
        $good = New-Companion $modules '1.31.0' '1.31.0'
        $null = New-Companion $modules '1.32.0' '1.32.0'
        $c = [Wuerstchen.PowerShell.Loading.NativeRuntime]::Choose($Layout, $null, "$TestDrive/none$([IO.Path]::PathSeparator)$modules")
        $c.Source | Should -Be 'CudaCompanion'
        $c.Folder | Should -Be $good
        $c.Skipped | Should -HaveCount 1
        $c.Skipped[0] | Should -Match 'built for ONNX Runtime 1\.32\.0, the module needs 1\.31\.x'
    }

    It 'prefers WUERSTCHEN_CUDA_PATH and says why one without the core library is skipped' {
        $modules = Join-Path $TestDrive 'modules2'
        $companion = New-Companion $modules '1.31.0' '1.31.0'
        $c = [Wuerstchen.PowerShell.Loading.NativeRuntime]::Choose($Layout, (Join-Path $TestDrive 'nothing-here'), $modules)
        $c.Source | Should -Be 'CudaCompanion'
        $c.Skipped[0] | Should -Match "WUERSTCHEN_CUDA_PATH=.*no $([regex]::Escape($Core)) there"
        $explicit = [Wuerstchen.PowerShell.Loading.NativeRuntime]::Choose($Layout, (Split-Path (Join-Path $companion $Core)), $modules)
        $explicit.Source | Should -Be 'WUERSTCHEN_CUDA_PATH'
    }

    It 'passes over a relative WUERSTCHEN_CUDA_PATH, a cut-short library and another CPU''s build, saying why (each would fail ONNX Runtime for the whole process)' {
        $modules = Join-Path $TestDrive 'modules4'
        $native = New-Companion $modules '1.31.0' '1.31.0'
        Push-Location (Split-Path $native)
        try { $relative = [Wuerstchen.PowerShell.Loading.NativeRuntime]::Choose($Layout, 'native', (Join-Path $TestDrive 'none')) } finally { Pop-Location }
        $relative.Source | Should -Be 'Module'
        $relative.Skipped[0] | Should -Match 'not an absolute path'
        $lib = Join-Path $native $Core
        $out = [IO.File]::OpenWrite($lib); try { $out.SetLength(100000) } finally { $out.Dispose() }
        $short = [Wuerstchen.PowerShell.Loading.NativeRuntime]::Choose($Layout, $null, $modules)
        $short.Source | Should -Be 'Module'
        $short.Skipped[0] | Should -Match '100000 bytes, far less than an ONNX Runtime library'
        if (-not $IsWindows) {
            New-CoreLibrary $lib ([byte[]] (0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0xB7, 0)) # an ELF for arm64
            $foreign = [Wuerstchen.PowerShell.Loading.NativeRuntime]::Choose($Layout, $null, $modules)
            $foreign.Source | Should -Be 'Module'
            $foreign.Skipped[0] | Should -Match 'built for arm64'
        }
    }

    It 'skips a companion whose onnxruntime.version is a FIFO, without opening it (opening one blocks until a writer comes)' -Skip:$IsWindows {
        $modules = Join-Path $TestDrive 'modules3'
        $native = New-Companion $modules '1.31.0' $null
        $fifo = Join-Path $native 'onnxruntime.version'
        mkfifo $fifo
        $type = [Wuerstchen.PowerShell.Loading.NativeRuntime]
        $job = Start-ThreadJob { param($t, $l, $m) $t::Choose($l, $null, $m) } -ArgumentList $type, $Layout, $modules
        $inTime = Wait-Job $job -Timeout 10
        if (-not $inTime) { [IO.File]::WriteAllText($fifo, '') } # unblock the reader, so the job can end
        $c = Receive-Job $job -Wait -AutoRemoveJob
        $inTime | Should -Not -BeNullOrEmpty -Because 'choosing the runtime must not block on a FIFO'
        $c.Source | Should -Be 'Module'
        $c.Skipped[0] | Should -Match 'onnxruntime\.version is 0 bytes'
    }
}

Describe 'Installed as a user installs it' {
    It 'publishes to a local repository, installs into a fresh module path, imports by name, generates, uninstalls' {
        $PackageStage | Should -Not -BeNullOrEmpty -Because 'build.ps1 -Task Test builds the package folder first (WUERSTCHEN_TEST_PACKAGE)'
        $data = Join-Path $TestDrive 'userdata'
        $repo = New-Item -ItemType Directory (Join-Path $TestDrive 'repo') -Force
        # PSResourceGet's CurrentUser scope and its repository list follow the home folder on Unix
        $userModules = Join-Path $data '.local/share/powershell/Modules'
        $version = (Import-PowerShellDataFile (Join-Path $PackageStage 'Wuerstchen.psd1')).ModuleVersion
        $env = @{ HOME = $data; XDG_DATA_HOME = (Join-Path $data '.local/share'); PSModulePath = $userModules; WUERSTCHEN_TEST_MODULE = $null; WUERSTCHEN_CUDA_PATH = $null }
        $r = Invoke-Child -Environment $env -Script @"
`$ErrorActionPreference = 'Stop'
`$null = New-Item -ItemType Directory '$userModules' -Force
Register-PSResourceRepository -Name WuerstchenTest -Uri '$repo' -Trusted
Publish-PSResource -Path '$PackageStage' -Repository WuerstchenTest
Install-PSResource Wuerstchen -Repository WuerstchenTest -TrustRepository -Scope CurrentUser
Import-Module Wuerstchen
`$m = Get-Module Wuerstchen
`$checks = Test-WuerstchenModel -ModelPath '$Models' -ExecutionProvider Cpu
`$f = New-WuerstchenImage 'a lighthouse' -Seed 3 -Width 128 -Height 128 -PriorSteps 2 -DecoderSteps 2 -ModelPath '$Models' -ExecutionProvider Auto -OutputPath ./img -WarningVariable w -WarningAction SilentlyContinue
`$native = [Wuerstchen.PowerShell.Loading.NativeRuntime]::Current
`$null = New-WuerstchenImage 'a lighthouse' -Seed 3 -Width 128 -Height 128 -PriorSteps 2 -DecoderSteps 2 -ModelPath '$Models' -ExecutionProvider Cuda -OutputPath ./cuda -ErrorVariable e -ErrorAction SilentlyContinue
`$result = [ordered]@{ Base = `$m.ModuleBase; Version = `$m.Version.ToString(); Statuses = @(`$checks.Status | ForEach-Object { "`$_" } | Sort-Object -Unique)
    File = `$f.FullName; Warnings = @(`$w | ForEach-Object { "`$_" }); Native = `$native.Folder; Source = `$native.Source
    Nupkg = (Get-ChildItem '$repo' -Filter *.nupkg).Name
    CudaErrors = `$e.Count; CudaId = `$e[0].FullyQualifiedErrorId; CudaCategory = "`$(`$e[0].CategoryInfo.Category)"; CudaTarget = `$e[0].TargetObject; CudaMessage = `$e[0].Exception.Message }
Remove-Module Wuerstchen
Uninstall-PSResource Wuerstchen -Scope CurrentUser
`$result.Removed = -not (Test-Path `$result.Base)
Unregister-PSResourceRepository -Name WuerstchenTest
[pscustomobject]`$result | ConvertTo-Json -Compress
"@
        $r.Nupkg | Should -Be "Wuerstchen.$version.nupkg"
        $r.Version | Should -Be $version
        $r.Base | Should -BeLike "$userModules*"
        $r.Statuses | Should -Be @('Ok')
        $r.File | Should -Exist
        $r.Source | Should -Be 'Module'
        $r.Native | Should -BeLike "$($r.Base)*"
        $r.Warnings | Should -HaveCount 1 -Because 'Auto without the CUDA companion falls back to the CPU with one warning'
        $r.Warnings[0] | Should -Match "CUDA is not available \(this install has no GPU runtime: Install-PSResource Wuerstchen\.Cuda\.(Linux|Windows) adds it\)"
        # -ExecutionProvider Cuda: says what is wrong and how to add the companion (issue 20 point 13: it used to send
        # the user to CUDA 13 and cuDNN, which cannot help, with ONNX Runtime's raw missing-entry-point message)
        $r.CudaErrors | Should -Be 1
        $r.CudaId | Should -BeLike 'CudaUnavailable,*'
        $r.CudaCategory | Should -Be 'NotInstalled'
        $r.CudaTarget | Should -Be 0
        $r.CudaMessage | Should -Match 'device 0: this install has no GPU runtime'
        $r.CudaMessage | Should -Match 'Install-PSResource Wuerstchen\.Cuda\.(Linux|Windows)'
        $r.CudaMessage | Should -Match 'new PowerShell session'
        $r.CudaMessage | Should -Not -Match 'entry point|cudart'
        $r.Removed | Should -BeTrue
        Get-Content (Join-Path $RepoRoot 'CHANGELOG.md') -Raw | Should -Match "(?m)^## $([regex]::Escape($version))\s*$"
    }
}

Describe 'Installed with the CUDA companion' -Skip:$IsMacOS {   # no GPU build of ONNX Runtime for macOS
    It 'installs Wuerstchen and the companion from a local repository; the module loads the companion''s GPU build and says what is missing' {
        $CompanionNupkg | Should -Not -BeNullOrEmpty -Because 'build.ps1 -Task Test packs this OS''s companion first (WUERSTCHEN_TEST_COMPANION)'
        $CompanionNupkg | Should -Exist
        (Get-Item $CompanionNupkg).Length | Should -BeLessThan 250e6 -Because 'the PowerShell Gallery refuses packages much over 250 MB'
        $version = (Import-PowerShellDataFile (Join-Path $PackageStage 'Wuerstchen.psd1')).ModuleVersion
        $companion = ((Split-Path $CompanionNupkg -Leaf) -split '\.')[0..2] -join '.'
        $data = Join-Path $TestDrive 'gpudata'
        $repo = New-Item -ItemType Directory (Join-Path $TestDrive 'gpurepo') -Force
        # the files build.ps1 wrote, as they would be uploaded (a folder of .nupkg files is a PSResource repository)
        Copy-Item $CompanionNupkg, (Get-TestPackageFile $PackageStage) -Destination $repo
        $userModules = Join-Path $data '.local/share/powershell/Modules'
        $env = @{ HOME = $data; XDG_DATA_HOME = (Join-Path $data '.local/share'); PSModulePath = $userModules; WUERSTCHEN_TEST_MODULE = $null; WUERSTCHEN_CUDA_PATH = $null }
        $r = Invoke-Child -Environment $env -Script @"
`$ErrorActionPreference = 'Stop'
`$null = New-Item -ItemType Directory '$userModules' -Force
Register-PSResourceRepository -Name WuerstchenGpu -Uri '$repo' -Trusted
Install-PSResource -Name Wuerstchen, $companion -Repository WuerstchenGpu -TrustRepository -Scope CurrentUser
Import-Module Wuerstchen
`$common = @{ Seed = 3; Width = 128; Height = 128; PriorSteps = 2; DecoderSteps = 2; ModelPath = '$Models' }
`$f = New-WuerstchenImage 'a lighthouse' @common -ExecutionProvider Auto -OutputPath ./auto -WarningVariable w -WarningAction SilentlyContinue
`$native = [Wuerstchen.PowerShell.Loading.NativeRuntime]::Current
`$c = New-WuerstchenImage 'a lighthouse' @common -ExecutionProvider Cuda -OutputPath ./cuda -ErrorVariable e -ErrorAction SilentlyContinue
`$result = [ordered]@{ Source = `$native.Source; Folder = `$native.Folder; Companion = (Get-Module -ListAvailable $companion).ModuleBase
    Gpu = [Wuerstchen.Core.SessionCache]::Shared.Devices.CudaUnavailableReason(0) -eq `$null
    File = `$f.FullName; Warnings = @(`$w | ForEach-Object { "`$_" }); CudaFile = `$c.FullName
    CudaErrors = `$e.Count; CudaId = `$e[0].FullyQualifiedErrorId; CudaCategory = "`$(`$e[0].CategoryInfo.Category)"; CudaMessage = `$e[0].Exception.Message }
Remove-Module Wuerstchen
Uninstall-PSResource Wuerstchen, $companion -Scope CurrentUser
Unregister-PSResourceRepository -Name WuerstchenGpu
[pscustomobject]`$result | ConvertTo-Json -Compress
"@
        $r.Companion | Should -BeLike "$userModules*"
        $r.Source | Should -Be 'CudaCompanion' -Because 'the module finds the installed companion on PSModulePath'
        $r.Folder | Should -BeLike "$($r.Companion)*"
        $r.File | Should -Exist
        if ($r.Gpu) {
            # a CUDA machine (scripts/gpu-check.sh): no fallback, and Cuda generates
            $r.Warnings | Should -BeNullOrEmpty
            $r.CudaFile | Should -Exist
        }
        else {
            $r.Warnings | Should -HaveCount 1 -Because 'Auto falls back to the CPU once, with one warning'
            $r.Warnings[0] | Should -Match 'CUDA is not available \(the GPU runtime is present, but no CUDA device or driver was found\); running on the CPU'
            $r.CudaErrors | Should -Be 1
            $r.CudaId | Should -BeLike 'CudaUnavailable,*'
            $r.CudaCategory | Should -Be 'NotInstalled'
            $r.CudaMessage | Should -Match 'the GPU runtime is present, but no CUDA device or driver was found'
            $r.CudaMessage | Should -Match 'NVIDIA driver'
            $r.CudaMessage | Should -Not -Match 'Install-PSResource'
        }
    }
}
