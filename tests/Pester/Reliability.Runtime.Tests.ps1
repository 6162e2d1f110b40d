# Reliability matrix, runtime: Ctrl+C in the middle of each stage, concurrent runspaces.
# What every case asserts, and the shared helpers: Reliability.Common.ps1.

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'Reliability.Common.ps1')
}

Describe 'Ctrl+C in the middle of each stage' {
    BeforeAll {
        # warm the cache with this process's options, so a stopped run's sessions are the ones reused after it
        $null = New-WuerstchenImage 'warm' @Small -OutputPath (Join-Path $TestDrive 'warm')

        # What a stopped run left: nothing, except in the VQGAN whole images of that run (returned by name).
        function Get-StoppedFiles([string] $Folder, [string] $Stage) {
            if ($Stage -ne 'VQGAN') { Assert-NothingWritten $Folder; return }
            Assert-NoTemporaryFile $Folder
            foreach ($f in @(Get-ChildItem -LiteralPath $Folder -Force -ErrorAction Ignore)) {
                $f.Name | Should -BeLike 'stop-the-vqgan-1-*.png'
                (Get-Rgb $f.FullName).Width | Should -Be 1024
                $f.Name
            }
        }

        function Stop-InStage([string] $Stage, [hashtable] $Job, [string] $Out) {
            $ps = [powershell]::Create()
            $null = $ps.AddCommand('Import-Module').AddParameter('Name', (Join-Path $ModulePath 'Wuerstchen.psd1')).AddStatement()
            $null = $ps.AddCommand('New-WuerstchenImage').AddParameters($Job).AddParameter('OutputPath', $Out).AddParameter('ExecutionProvider', 'Cpu').AddParameter('ModelPath', $Models)
            $handle = $ps.BeginInvoke()
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $seen = $null
            $i = 0
            while (-not $seen -and -not $handle.IsCompleted -and $clock.Elapsed.TotalSeconds -lt 120) {
                $progress = $ps.Streams.Progress
                for (; $i -lt $progress.Count; $i++) {
                    if ($progress[$i].Activity -like "*: $Stage") { $seen = $progress[$i]; break }
                }
                if (-not $seen) { Start-Sleep -Milliseconds 5 }
            }
            $completedBeforeStop = $handle.IsCompleted
            $stopClock = [Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $stopSeconds = $stopClock.Elapsed.TotalSeconds
            $runs = [Wuerstchen.Core.RunStatistics]::Count
            [pscustomobject]@{
                PowerShell          = $ps
                Seen                = $seen
                CompletedBeforeStop = $completedBeforeStop
                StopSeconds         = $stopSeconds
                State               = $ps.InvocationStateInfo.State
                RunsAtStop          = $runs
            }
        }
    }

    It 'stops the <Stage> stage: no .png (the VQGAN: only the images already decoded), no .tmp, state Stopped, and the cache still works' -ForEach @(
        @{ Stage = 'Prior'; Job = @{ Prompt = 'stop the prior'; Width = 1024; Height = 1024; ImagesPerPrompt = 16; Seed = 1; PriorSteps = 1000; DecoderSteps = 2 } }
        @{ Stage = 'Decoder'; Job = @{ Prompt = 'stop the decoder'; Width = 1024; Height = 1024; ImagesPerPrompt = 4; Seed = 1; PriorSteps = 2; DecoderSteps = 1000 } }
        @{ Stage = 'VQGAN'; Job = @{ Prompt = 'stop the vqgan'; Width = 1024; Height = 1024; ImagesPerPrompt = 16; Seed = 1; PriorSteps = 2; DecoderSteps = 1 } }
    ) {
        $loads = [Wuerstchen.Core.SessionCache]::Shared.LoadCount
        $dir = Join-Path $TestDrive "stop-$Stage"
        $s = Stop-InStage $Stage $Job $dir
        try {
            $s.CompletedBeforeStop | Should -BeFalse
            $s.Seen | Should -Not -BeNullOrEmpty -Because "the $Stage stage should have reported progress before the stop"
            # really in the middle: the stage had steps left
            $s.Seen.StatusDescription -match "^$Stage step (\d+) of (\d+)" | Should -BeTrue -Because $s.Seen.StatusDescription
            [int] $Matches[1] | Should -BeLessThan ([int] $Matches[2])
            $s.State | Should -Be 'Stopped'
            $s.StopSeconds | Should -BeLessThan 10
            # nothing written, not even later: the engine is done when Stop returns. In the VQGAN, the images decoded
            # before the stop were written one by one as they came (whole files; issue 21: nothing is held to the end)
            $before = @(Get-StoppedFiles $dir $Stage)
            Start-Sleep -Milliseconds 500
            [Wuerstchen.Core.RunStatistics]::Count | Should -Be $s.RunsAtStop
            (@(Get-StoppedFiles $dir $Stage) -join ',') | Should -Be (@($before) -join ',')
            # the same runspace goes on
            $ps = $s.PowerShell
            $ps.Commands.Clear()
            $null = $ps.AddCommand('New-WuerstchenImage').AddParameters($Small).AddParameter('Prompt', 'after the stop').AddParameter('OutputPath', $dir).AddParameter('ExecutionProvider', 'Cpu').AddParameter('ModelPath', $Models)
            $next = @($ps.Invoke())
            $ps.InvocationStateInfo.State | Should -Be 'Completed'
            $next.Name | Should -Be @('after-the-stop-1-0.png')
            # and this runspace, on the same cached sessions (none reloaded)
            Assert-NextCallWorks
            [Wuerstchen.Core.SessionCache]::Shared.LoadCount | Should -Be $loads
            @(Get-ChildItem $dir -Force | Where-Object Name -NotIn $before).Name | Should -Be @('after-the-stop-1-0.png')
        }
        finally { $s.PowerShell.Dispose() }
    }

    It 'stops while the images are being saved: between files, each file written is whole, no .tmp' {
        $loads = [Wuerstchen.Core.SessionCache]::Shared.LoadCount
        $dir = Join-Path $TestDrive 'stop-saving'
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddCommand('Import-Module').AddParameter('Name', (Join-Path $ModulePath 'Wuerstchen.psd1')).AddStatement()
            $null = $ps.AddCommand('New-WuerstchenImage').AddParameters(@{ Prompt = 'stop the saving'; Width = 1024; Height = 1024; ImagesPerPrompt = 32; Seed = 1; PriorSteps = 2; DecoderSteps = 1 }).
                AddParameter('OutputPath', $dir).AddParameter('ExecutionProvider', 'Cpu').AddParameter('ModelPath', $Models)
            $handle = $ps.BeginInvoke()
            $clock = [Diagnostics.Stopwatch]::StartNew()
            # the first file (temporary or final) shows that saving has begun
            while (-not $handle.IsCompleted -and $clock.Elapsed.TotalSeconds -lt 120 -and
                -not (Get-ChildItem -LiteralPath $dir -Force -ErrorAction Ignore | Select-Object -First 1)) { Start-Sleep -Milliseconds 2 }
            $handle.IsCompleted | Should -BeFalse
            $ps.Stop()
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
            Start-Sleep -Milliseconds 500
            $files = @(Get-ChildItem -LiteralPath $dir -Force)
            Assert-NoTemporaryFile $dir
            # Ctrl+C stops between files: not all 32 are written after it
            $files.Count | Should -BeLessThan 32
            foreach ($f in $files) {
                $f.Name | Should -Match '^stop-the-saving-1-\d+\.png$'
                (Get-Rgb $f.FullName).Width | Should -Be 1024
            }
            Assert-NextCallWorks
            [Wuerstchen.Core.SessionCache]::Shared.LoadCount | Should -Be $loads
        }
        finally { $ps.Dispose() }
    }
}

Describe 'Concurrent runspaces' {
    It 'four runspaces generating at once on shared cached sessions give exactly the serial images' {
        $serialDir = Join-Path $TestDrive 'serial'
        $serial = foreach ($i in 1..4) {
            New-WuerstchenImage "parallel $i" -Width 384 -Height 256 -Seed (100 + $i) -PriorSteps 6 -PriorGuidanceScale 4 -DecoderSteps 4 -OutputPath $serialDir
        }
        $loads = [Wuerstchen.Core.SessionCache]::Shared.LoadCount
        $module = Join-Path $ModulePath 'Wuerstchen.psd1'
        $models = $Models
        $parallelDir = Join-Path $TestDrive 'parallel'
        $ErrorActionPreference = 'Continue'
        $all = 1..4 | ForEach-Object -ThrottleLimit 4 -Parallel {
            Import-Module $using:module
            New-WuerstchenImage "parallel $_" -Width 384 -Height 256 -Seed (100 + $_) -PriorSteps 6 -PriorGuidanceScale 4 -DecoderSteps 4 -ExecutionProvider Cpu -ModelPath $using:models -OutputPath $using:parallelDir
        } 2>&1
        $ErrorActionPreference = 'Stop'
        @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }) | Should -BeNullOrEmpty
        $files = @($all | Sort-Object Seed)
        $files.Count | Should -Be 4
        for ($i = 0; $i -lt 4; $i++) {
            $files[$i].Name | Should -Be $serial[$i].Name
            $a = Get-Rgb $files[$i].FullName
            $b = Get-Rgb $serial[$i].FullName
            $a.Width | Should -Be 384
            (Compare-Bytes $a.Bytes $b.Bytes).Max | Should -Be 0
        }
        # the runspaces shared the sessions this process had loaded
        [Wuerstchen.Core.SessionCache]::Shared.LoadCount | Should -Be $loads
        Assert-NoTemporaryFile $parallelDir
        Assert-NextCallWorks
    }

    It 'four runspaces writing default names that collide into one folder all succeed under distinct names' {
        # same 48-character slug and seed: each runspace picks the same free name before any is written
        $module = Join-Path $ModulePath 'Wuerstchen.psd1'
        $models = $Models
        $dir = Join-Path $TestDrive 'collide'
        $ErrorActionPreference = 'Continue'
        $all = 1..4 | ForEach-Object -ThrottleLimit 4 -Parallel {
            Import-Module $using:module
            New-WuerstchenImage "a photo of a cat sitting on a red chair in the garden, variant $_" -Width 256 -Height 256 -Seed 42 -PriorSteps 4 -DecoderSteps 3 -ExecutionProvider Cpu -ModelPath $using:models -OutputPath $using:dir
        } 2>&1
        $ErrorActionPreference = 'Stop'
        @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] } | ForEach-Object { "$($_.FullyQualifiedErrorId): $($_.Exception.Message)" }) | Should -BeNullOrEmpty
        @($all).Count | Should -Be 4
        $names = @(Get-ChildItem $dir -Force).Name | Sort-Object
        $names | Should -Be @('a-photo-of-a-cat-sitting-on-a-red-chair-in-the-g-42-0-1.png', 'a-photo-of-a-cat-sitting-on-a-red-chair-in-the-g-42-0-2.png',
            'a-photo-of-a-cat-sitting-on-a-red-chair-in-the-g-42-0-3.png', 'a-photo-of-a-cat-sitting-on-a-red-chair-in-the-g-42-0.png')
        # each file holds the image its output object says (prompt text chunk)
        foreach ($f in $all) { [Wuerstchen.Core.IO.PngImage]::ReadText($f.FullName)['prompt'] | Should -Be $f.Prompt }
    }
}
