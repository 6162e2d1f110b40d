# The README's job-array recipe (render-task.ps1), run as the scheduler would run it: one pwsh process per task with
# the variables Slurm or a Kubernetes Indexed Job sets, all writing into one folder; one task is killed mid-run and
# started again with the same variables, as a requeued Slurm task or a replaced Kubernetes pod is.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'ScaleOut.Common.ps1')

    # One task: `pwsh -NoProfile -File render-task.ps1` with the scheduler's variables, the built module on
    # PSModulePath (Import-Module Wuerstchen by name) and the stand-in models as the machine's model folder.
    function Start-Task([string] $Script, [hashtable] $Variables, [string] $Log) {
        $pwsh = Get-PwshCommand
        $environment = @{ PSModulePath = (Split-Path $ModulePath); WUERSTCHEN_MODEL_PATH = $Models } + $Variables
        Start-Process $pwsh.Exe -ArgumentList (@($pwsh.Prefix) + '-NoProfile', '-NonInteractive', '-File', $Script) -Environment $environment `
            -PassThru -RedirectStandardOutput "$Log.out" -RedirectStandardError "$Log.err"
    }

    function Wait-Task($Process, [string] $Log) {
        if (-not $Process.WaitForExit(180000)) { $Process.Kill(); throw "task $($Process.Id) did not end within 3 minutes" }
        [pscustomobject]@{ ExitCode = $Process.ExitCode; Errors = (Get-Content -LiteralPath "$Log.err" -Raw) }
    }
}

Describe 'New-WuerstchenImage -SkipExisting in a job array' {
    # three tasks over nine rows; task 1 (rows 1, 4, 7) is the one killed
    It '<Scheduler>: a task killed mid-run and retried leaves every row rendered exactly once, nothing partial' -ForEach @(
        @{ Scheduler = 'Slurm, sbatch --array=1-3'
            Tasks = foreach ($id in 1..3) { @{ SLURM_ARRAY_TASK_ID = "$id"; SLURM_ARRAY_TASK_MIN = '1'; SLURM_ARRAY_TASK_COUNT = '3'; JOB_COMPLETION_INDEX = $null; TASK_COUNT = $null } }
        }
        @{ Scheduler = 'Kubernetes Indexed Job, completions 3'
            Tasks = foreach ($index in 0..2) { @{ JOB_COMPLETION_INDEX = "$index"; TASK_COUNT = '3'; SLURM_ARRAY_TASK_ID = $null; SLURM_ARRAY_TASK_MIN = $null; SLURM_ARRAY_TASK_COUNT = $null } }
        }
    ) {
        $share = New-Item -ItemType Directory (Join-Path $TestDrive ($Scheduler -replace '\W+', '-')) -Force
        $rows = New-ScaleOutCsv (Join-Path $share 'prompts.csv') 9
        $renders = Join-Path $share 'renders'
        $script = Join-Path $share 'render-task.ps1'
        Set-Content -LiteralPath $script -Value (Get-ReadmeRecipe '# render-task.ps1' $share)

        $started = @(for ($t = 0; $t -lt 3; $t++) { Start-Task $script $Tasks[$t] (Join-Path $share "task$t") })
        try {
            $victimSeeds = @(for ($r = 1; $r -lt $rows.Count; $r += 3) { [long] $rows[$r].Seed })
            $kill = & $KillAfterFirstImage $started[1].Id $renders $victimSeeds
            $ends = @(for ($t = 0; $t -lt 3; $t++) { Wait-Task $started[$t] (Join-Path $share "task$t") })
        }
        finally { $started | Where-Object { -not $_.HasExited } | ForEach-Object { $_.Kill() } }
        $kill.Killed | Should -BeTrue -Because "task 1 must be killed mid-run ($($kill.Why))"
        foreach ($t in 0, 2) {
            $ends[$t].Errors | Should -BeNullOrEmpty
            $ends[$t].ExitCode | Should -Be 0
        }
        $ends[1].ExitCode | Should -Be 137 -Because 'task 1 was killed (SIGKILL)'
        $before = Get-FolderState $renders
        $before.Name | Where-Object { $_ -notlike '*.png' } | Should -BeNullOrEmpty -Because 'the kill landed between two writes'
        $victimDone = @($victimSeeds | Where-Object { $before.Name -match "-$_-0\.png$" })
        $victimDone.Count | Should -BeGreaterThan 0
        $victimDone.Count | Should -BeLessThan $victimSeeds.Count -Because 'the kill must leave rows to make'
        $before | Should -HaveCount ($rows.Count - $victimSeeds.Count + $victimDone.Count) -Because 'tasks 0 and 2 finish their rows'

        # the retry: the same task, the same variables
        $retry = Wait-Task (Start-Task $script $Tasks[1] (Join-Path $share 'retry')) (Join-Path $share 'retry')
        $retry.Errors | Should -BeNullOrEmpty
        $retry.ExitCode | Should -Be 0
        Assert-EveryRowOnce -Rows $rows -Folder $renders -Before $before
    }
}
