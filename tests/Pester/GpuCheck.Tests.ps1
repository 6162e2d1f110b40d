# scripts/gpu-check.sh, the one prepared run for a CUDA machine: on a machine without a usable GPU it must stop at once
# with its documented exit code (3), before building anything, so a device minute is never spent on a wrong machine.
# Its full --dry-run --provider Cpu takes minutes, so it is run by hand (README: Performance, GPU), not here.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Script = Join-Path $RepoRoot 'scripts/gpu-check.sh'
    # a stand-in nvidia-smi that finds no GPU, first on PATH, so the test means the same on a machine that has one
    $script:FakeBin = New-Item -ItemType Directory (Join-Path $TestDrive 'bin') -Force
    Set-Content (Join-Path $FakeBin 'nvidia-smi') "#!/bin/sh`necho 'No devices were found' >&2`nexit 9"
    & chmod +x (Join-Path $FakeBin 'nvidia-smi')
    function Invoke-GpuCheck([string[]] $Arguments) {
        $saved = $env:PATH
        $env:PATH = "$FakeBin$([IO.Path]::PathSeparator)$saved"
        try {
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $lines = & bash $Script @Arguments 2>&1 | ForEach-Object { "$_" }
            [pscustomobject]@{ Exit = $LASTEXITCODE; Seconds = $clock.Elapsed.TotalSeconds; Text = $lines -join "`n" }
        }
        finally { $env:PATH = $saved }
    }
}

Describe 'scripts/gpu-check.sh' -Skip:(-not $IsLinux) {
    It 'exits 3 within seconds when no GPU is usable, and says how to check the steps on the CPU' {
        $r = Invoke-GpuCheck @()
        $r.Exit | Should -Be 3
        $r.Seconds | Should -BeLessThan 10
        $r.Text | Should -Match 'No usable NVIDIA GPU'
        $r.Text | Should -Match '--dry-run --provider Cpu'
        $r.Text | Should -Not -Match '== build'
    }

    It 'exits 2 on a bad argument, naming it' {
        $r = Invoke-GpuCheck @('--provider', 'Metal')
        $r.Exit | Should -Be 2
        $r.Text | Should -Match "--provider 'Metal'"
    }

    It 'documents its exit codes in --help' {
        $r = Invoke-GpuCheck @('--help')
        $r.Exit | Should -Be 0
        $r.Text | Should -Match '3 no usable NVIDIA GPU'
    }
}
