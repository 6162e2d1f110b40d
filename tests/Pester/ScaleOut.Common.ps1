# Shared set-up of the scale-out tests (ScaleOut.*.Tests.ps1), dot-sourced after Common.ps1: the README's code blocks
# as the tests run them, a CSV of rows with known seeds, a process killed between two file writes, and what a render
# folder holds.

$script:Readme = Join-Path $RepoRoot 'README.md'

# The code of the README's first ```powershell block that contains $Containing, with /share (the recipes' shared
# folder) replaced by $Share: the tests run the recipe as the README prints it, so editing one breaks the other.
function Get-ReadmeRecipe([string] $Containing, [string] $Share) {
    $blocks = [regex]::Matches((Get-Content -LiteralPath $Readme -Raw), '(?ms)^```powershell\r?\n(.*?)^```')
    $block = $blocks | Where-Object { $_.Groups[1].Value.Contains($Containing) } | Select-Object -First 1
    if (-not $block) { throw "README.md has no powershell block containing '$Containing'." }
    $block.Groups[1].Value.Replace('/share/', ($Share.TrimEnd('/') + '/'))
}

# The command line of a PowerShell like this one (as a dotnet tool the process is dotnet + pwsh.dll).
function Get-PwshCommand {
    $exe = [Environment]::ProcessPath
    $prefix = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
    [pscustomobject]@{ Exe = $exe; Prefix = $prefix }
}

# A CSV of $Count rows, each its own prompt and seed (1001, 1002 …: a file's name holds its seed), sized so a row
# takes a good part of a second on the stand-ins: a task killed after its first image still has rows to make.
function New-ScaleOutCsv([string] $Path, [int] $Count = 8) {
    $rows = foreach ($i in 0..($Count - 1)) {
        [pscustomobject]@{ Prompt = "scale-out row $i"; Seed = 1001 + $i; Width = 512; Height = 384; PriorSteps = 30; DecoderSteps = 8 }
    }
    $rows | Export-Csv -LiteralPath $Path -NoTypeInformation
    $rows
}

# Stops process $ProcessId with SIGKILL once one of its images is in $Folder (a .png whose name holds one of $Seeds),
# at a moment it holds no temporary file there: it is frozen (SIGSTOP) and killed only if it is not writing, so the
# kill lands between two writes. Runs as a thread job beside the run it kills; returns what it saw.
$script:KillAfterFirstImage = {
    param([int] $ProcessId, [string] $Folder, [long[]] $Seeds, [double] $TimeoutSeconds = 120)
    $mine = '-(' + ($Seeds -join '|') + ')-0\.png$'
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ([DateTime]::UtcNow -lt $deadline) {
        if (-not (Get-Process -Id $ProcessId -ErrorAction Ignore)) { return [pscustomobject]@{ Killed = $false; Why = 'it ended before its first image was seen' } }
        $done = @(Get-ChildItem -LiteralPath $Folder -Filter *.png -ErrorAction Ignore | Where-Object Name -Match $mine)
        if ($done.Count -gt 0) {
            /bin/kill -STOP $ProcessId
            $writing = @(Get-ChildItem -LiteralPath $Folder -Force -Filter ".*.p$ProcessId.*.tmp" -ErrorAction Ignore)
            if ($writing.Count -eq 0) {
                /bin/kill -KILL $ProcessId
                return [pscustomobject]@{ Killed = $true; Done = @($done.Name) }
            }
            /bin/kill -CONT $ProcessId   # in a write: let it finish and try again
        }
        Start-Sleep -Milliseconds 10
    }
    [pscustomobject]@{ Killed = $false; Why = "no image of it within $TimeoutSeconds s" }
}

# Everything in a render folder, hidden files included: name, and when and what was written (a file made again gets
# a new time even with the same bytes).
function Get-FolderState([string] $Folder) {
    @(Get-ChildItem -LiteralPath $Folder -Force -ErrorAction Ignore | Sort-Object Name | ForEach-Object {
            [pscustomobject]@{ Name = $_.Name; Written = $_.LastWriteTimeUtc.Ticks; Length = $_.Length }
        })
}

# The checks after a run that was killed and run again: every row exactly once (one PNG per row, carrying the row's
# parameters, decodable), nothing else in the folder (no .tmp, no -1 copy), the first run's files untouched.
function Assert-EveryRowOnce([object[]] $Rows, [string] $Folder, [object[]] $Before) {
    $after = Get-FolderState $Folder
    $after.Name | Where-Object { $_ -notlike '*.png' } | Should -BeNullOrEmpty -Because 'no temporary or other file is left'
    $after | Should -HaveCount $Rows.Count -Because 'one file per row, no duplicate'
    $info = @(Get-WuerstchenImageInfo -LiteralPath ($after.Name | ForEach-Object { Join-Path $Folder $_ }))
    ($info.Seed | Sort-Object) | Should -Be ($Rows.Seed | ForEach-Object { [long] $_ } | Sort-Object)
    foreach ($row in $Rows) {
        $i = @($info | Where-Object Seed -EQ $row.Seed)
        $i | Should -HaveCount 1
        "$($i.Prompt) $($i.Width)x$($i.Height) $($i.PriorSteps)/$($i.DecoderSteps)" |
            Should -Be "$($row.Prompt) $($row.Width)x$($row.Height) $($row.PriorSteps)/$($row.DecoderSteps)"
        (Get-Rgb $i.ImageFile).Width | Should -Be $row.Width   # the whole image decodes
    }
    foreach ($old in $Before) {
        $now = $after | Where-Object Name -EQ $old.Name
        "$($now.Written) $($now.Length)" | Should -Be "$($old.Written) $($old.Length)" -Because "$($old.Name) was made by the first run and must not be made again"
    }
}

# Stops processes and everything they started (sshd forks a process per connection, which starts the remote pwsh),
# deepest first, and waits for them: a remote pwsh still writing into its HOME under TestDrive made Pester's clean-up
# of TestDrive fail once ("Directory not empty").
function Stop-ProcessTree([int[]] $Id, [int] $TimeoutSeconds = 15) {
    $parents = @{}
    foreach ($stat in Get-ChildItem /proc -Directory -ErrorAction Ignore | Where-Object Name -match '^\d+$') {
        try {
            $text = [System.IO.File]::ReadAllText("$($stat.FullName)/stat")
            # pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'
            $ppid = [int] ($text.Substring($text.LastIndexOf(')') + 2).Split(' ')[1])
            $parents[[int] $stat.Name] = $ppid
        } catch { } # the process ended meanwhile
    }
    $all = [System.Collections.Generic.List[int]]::new()
    $queue = [System.Collections.Generic.Queue[int]]::new([int[]] $Id)
    while ($queue.Count -gt 0) {
        $p = $queue.Dequeue(); $all.Add($p)
        foreach ($child in $parents.Keys | Where-Object { $parents[$_] -eq $p }) { $queue.Enqueue($child) }
    }
    $all.Reverse()
    foreach ($p in $all) { Stop-Process -Id $p -Force -ErrorAction Ignore }
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    foreach ($p in $all) {
        while ((Get-Process -Id $p -ErrorAction Ignore) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
    }
}
