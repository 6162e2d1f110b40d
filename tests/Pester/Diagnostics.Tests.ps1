# Issue 9 points 12 and 13: -Verbose tells what happened, progress shows loads and moves during the stages, and the
# CUDA fallback warning is one short line. Each test failed on the code before the fix.

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Small = @{ Width = 128; Height = 128; Seed = 1; PriorSteps = 2; DecoderSteps = 2 }
    function Get-Verbose([scriptblock] $Script) {
        @(& $Script 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
    }
    # runs a command in its own runspace and returns its progress records
    function Get-Progress([string] $Command) {
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$(Join-Path $ModulePath 'Wuerstchen.psd1')'; Clear-WuerstchenCache; $Command")
            $null = $ps.Invoke()
            $ps.HadErrors | Should -BeFalse
            @($ps.Streams.Progress)
        }
        finally { $ps.Dispose() }
    }
}

Describe '-Verbose tells what happened (point 12)' {
    It 'names the model folder and its source, the provider, each network''s load time, each stage''s time and each file' {
        Clear-WuerstchenCache
        $dir = Join-Path $TestDrive 'verbose'
        $v = Get-Verbose { New-WuerstchenImage 'a fox' @Small -OutputPath $dir -Verbose }
        $v | Should -Contain "Model folder: '$Models' (from -ModelPath)."
        ($v -match '^Execution provider: Cpu, device 0').Count | Should -Be 1
        ($v -match '^Prior network loaded on CPU in \d+\.\d\d s\.$').Count | Should -Be 1
        ($v -match '^Decoder network loaded on CPU in \d+\.\d\d s\.$').Count | Should -Be 1
        ($v -match '^Prior: 2 steps for 1 image in \d+\.\d\d s\.$').Count | Should -Be 1
        ($v -match '^Decoder: 2 steps for 1 image in \d+\.\d\d s\.$').Count | Should -Be 1
        $v | Should -Contain "Wrote '$(Join-Path $dir 'a-fox-1-0.png')'."
        # a second call says the networks came from the cache
        $again = Get-Verbose { New-WuerstchenImage 'a fox' @Small -OutputPath $dir -Force -Verbose }
        ($again -match '^Prior network: cached session \(CPU\)\.$').Count | Should -Be 1
    }

    It 'says when the folder came from $env:WUERSTCHEN_MODEL_PATH or is the default' {
        $saved = $PSDefaultParameterValues['*-Wuerstchen*:ModelPath']
        $savedEnv = $env:WUERSTCHEN_MODEL_PATH
        try {
            $PSDefaultParameterValues.Remove('*-Wuerstchen*:ModelPath')
            $env:WUERSTCHEN_MODEL_PATH = $Models
            Get-Verbose { Measure-WuerstchenPrompt 'a fox' -Verbose } | Should -Contain "Model folder: '$Models' (from `$env:WUERSTCHEN_MODEL_PATH)."
            $env:WUERSTCHEN_MODEL_PATH = ''
            $default = [Wuerstchen.PowerShell.ModelCmdlet]::DefaultModelPath
            Get-Verbose { Measure-WuerstchenPrompt 'a fox' -Verbose -ErrorAction SilentlyContinue } | Should -Contain "Model folder: '$default' (from the default folder)."
        }
        finally {
            $PSDefaultParameterValues['*-Wuerstchen*:ModelPath'] = $saved
            $env:WUERSTCHEN_MODEL_PATH = $savedEnv
        }
    }

    It 'progress says which network is loading, and the batch bar moves during the stages' {
        $progress = Get-Progress "New-WuerstchenImage 'progress' -Width 128 -Height 128 -Seed 1 -PriorSteps 4 -DecoderSteps 3 -ExecutionProvider Cpu -ModelPath '$Models' -OutputPath '$(Join-Path $TestDrive 'p')'"
        ($progress | Where-Object StatusDescription -eq 'Loading Prior…').Count | Should -BeGreaterThan 0
        ($progress | Where-Object StatusDescription -eq 'Loading Decoder…').Count | Should -BeGreaterThan 0
        $batch = @($progress | Where-Object { $_.ActivityId -eq 1 -and $_.RecordType -eq 'Processing' } | ForEach-Object PercentComplete | Sort-Object -Unique)
        # more than the start (0) and the end: the bar moves while the stages run
        @($batch | Where-Object { $_ -gt 0 -and $_ -lt 100 }).Count | Should -BeGreaterThan 2
    }

    It 'Ctrl+C while a network loads stops the call: nothing further runs and nothing is written' {
        if (-not ('PesterStopOnProgress' -as [type])) {
            Add-Type -TypeDefinition @'
using System.Management.Automation;
public static class PesterStopOnProgress {
    // stops the pipeline (as Ctrl+C does) as soon as a progress record with the given status arrives
    public static void Arm(PowerShell ps, string status) {
        ps.Streams.Progress.DataAdded += (sender, e) => {
            var record = ((PSDataCollection<ProgressRecord>)sender)[e.Index];
            if (record.StatusDescription == status) { ps.BeginStop(null, null); }
        };
    }
}
'@
        }
        $dir = Join-Path $TestDrive 'stopped'
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$(Join-Path $ModulePath 'Wuerstchen.psd1')'; Clear-WuerstchenCache; New-WuerstchenImage 'a fox' -Width 128 -Height 128 -Seed 1 -PriorSteps 2 -DecoderSteps 2 -ExecutionProvider Cpu -ModelPath '$Models' -OutputPath '$dir' -Verbose")
            [PesterStopOnProgress]::Arm($ps, 'Loading PriorTextEncoder…') # the first load (the text encoder runs first)
            try { $null = $ps.Invoke() } catch [System.Management.Automation.PipelineStoppedException] { }
            "$($ps.InvocationStateInfo.State)" | Should -Be 'Stopped'
            $verbose = @($ps.Streams.Verbose.Message)
            ($verbose -match '^(Prior|Decoder): \d+ steps').Count | Should -Be 0
            ($verbose -match '^Decoder network').Count | Should -Be 0
            Test-Path $dir | Should -BeFalse # no image, and the folder the call created is gone
        }
        finally { $ps.Dispose() }
    }

    It 'Test-WuerstchenModel shows progress' {
        $progress = Get-Progress "Test-WuerstchenModel -ExecutionProvider Cpu -ModelPath '$Models' | Out-Null"
        ($progress | Where-Object Activity -eq 'Test-WuerstchenModel').Count | Should -BeGreaterThan 1
        ($progress | Where-Object { $_.Activity -eq 'Test-WuerstchenModel' -and $_.RecordType -eq 'Completed' }).Count | Should -Be 1
    }
}

Describe 'The CUDA fallback warning (point 13)' {
    It 'is one short line; the reason and the libraries go to -Verbose' {
        # a device this process has not used, so the once-per-device warning comes now
        $device = 41
        $cudaWorks = $null -eq [Wuerstchen.Core.SessionCache]::Shared.Devices.CudaUnavailableReason($device)
        $all = New-WuerstchenImage 'a fox' @Small -ExecutionProvider Auto -DeviceId $device -OutputPath (Join-Path $TestDrive 'cuda') -Verbose 3>&1 4>&1
        $warnings = @($all | Where-Object { $_ -is [System.Management.Automation.WarningRecord] } | ForEach-Object Message)
        $verbose = @($all | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
        if ($cudaWorks) {
            $warnings | Should -BeNullOrEmpty # nothing falls back, nothing to flood a log with
        }
        else {
            $warnings.Count | Should -Be 1
            $warnings[0] | Should -Not -Match "`n"
            $warnings[0].Length | Should -BeLessThan 160
            # the build under test carries the GPU build (no driver on a CPU machine; no device 41 on a GPU one)
            $warnings[0] | Should -Match 'CUDA is not available \(the GPU runtime is present, but no CUDA device or driver was found\); running on the CPU'
            ($verbose -match 'NVIDIA driver for CUDA 13').Count | Should -Be 1
        }
    }
}
