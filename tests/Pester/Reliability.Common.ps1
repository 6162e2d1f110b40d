# Shared set-up of the reliability matrix (Reliability.*.Tests.ps1), dot-sourced after Common.ps1 in each file's
# BeforeAll. Every way a call can go wrong gives an ErrorRecord with a stable id, the right category and
# the offending value in its message; nothing partial or temporary is left in the output folder; the process
# survives (risky cases run in a child process or runspace); and the next good call works.

$script:Small = @{ Width = 128; Height = 128; Seed = 1; PriorSteps = 2; DecoderSteps = 2 }
$script:TempPattern = '^\..+\.[0-9a-f]{8}\.tmp$'

# An error as data (records from a child process arrive as JSON with these fields).
function ConvertTo-ErrorInfo($Record) {
    [pscustomobject]@{
        Id            = $Record.FullyQualifiedErrorId
        Category      = "$($Record.CategoryInfo.Category)"
        Message       = $Record.Exception.Message
        ExceptionType = $Record.Exception.GetType().FullName
    }
}

function Assert-ErrorInfo($Info, [string] $Id, [string] $Category, [string[]] $Names) {
    $Info | Should -Not -BeNullOrEmpty
    $Info.Id | Should -BeLike "$Id,Wuerstchen.PowerShell.*Command"
    $Info.Category | Should -Be $Category
    # never a raw .NET exception or a stack trace
    $Info.Id | Should -Not -BeLike 'WuerstchenUnexpectedError*'
    $Info.ExceptionType | Should -BeIn @('Wuerstchen.Core.WuerstchenException', 'System.Management.Automation.ParameterBindingException', 'System.Management.Automation.ActionPreferenceStopException',
        'System.Management.Automation.ParameterBindingValidationException', 'System.Management.Automation.ParameterBindingArgumentTransformationException')
    $Info.Message | Should -Not -Match '\bat [\w.]+\(.*\) in |--- End of'
    foreach ($n in $Names) {
        $Info.Message.Contains($n) | Should -BeTrue -Because "the message '$($Info.Message)' should name '$n'"
    }
}

function Assert-WuerstchenError($Record, [string] $Id, [string] $Category, [string[]] $Names) {
    Assert-ErrorInfo (ConvertTo-ErrorInfo $Record) $Id $Category $Names
}

# Nothing at all in a folder that a failed call was to write into (it may not exist).
function Assert-NothingWritten([string] $Folder) {
    @(Get-ChildItem -LiteralPath $Folder -Force -Recurse -ErrorAction Ignore).Name | Should -BeNullOrEmpty
}

function Assert-NoTemporaryFile([string] $Folder) {
    @(Get-ChildItem -LiteralPath $Folder -Force -Recurse -File -ErrorAction Ignore | Where-Object Name -Match $TempPattern).Name | Should -BeNullOrEmpty
    @(Get-ChildItem -LiteralPath $Folder -Force -Recurse -File -ErrorAction Ignore | Where-Object Name -Like '*.tmp').Name | Should -BeNullOrEmpty
}

# The next good call in this process works and writes a whole image.
function Assert-NextCallWorks {
    $dir = Join-Path $TestDrive ('next-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    $f = New-WuerstchenImage 'the next good call' @Small -OutputPath $dir
    @($f).Count | Should -Be 1
    $img = Get-Rgb $f.FullName
    $img.Width | Should -Be 128
    $img.Height | Should -Be 128
    Assert-NoTemporaryFile $dir
}

# A child pwsh (the same PowerShell as this one; as a dotnet tool the process is dotnet + pwsh.dll). With a timeout,
# a child that has not finished by then (a read that blocks forever) is killed and reported, not waited for.
function Invoke-ChildPwsh([string] $ScriptPath, [hashtable] $Parameters, [int] $TimeoutSeconds = 0) {
    $exe = [Environment]::ProcessPath
    $start = [Diagnostics.ProcessStartInfo]::new($exe)
    if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { $start.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll')) }
    foreach ($a in @('-NoProfile', '-NonInteractive', '-File', $ScriptPath)) { $start.ArgumentList.Add($a) }
    foreach ($k in $Parameters.Keys) { $start.ArgumentList.Add("-$k"); $start.ArgumentList.Add([string] $Parameters[$k]) }
    $start.RedirectStandardOutput = $true
    $start.RedirectStandardError = $true
    $start.UseShellExecute = $false
    $process = [Diagnostics.Process]::Start($start)
    try {
        $stdout = $process.StandardOutput.ReadToEndAsync()
        $stderr = $process.StandardError.ReadToEndAsync()
        $limit = if ($TimeoutSeconds -gt 0) { $TimeoutSeconds * 1000 } else { -1 }
        $timedOut = -not $process.WaitForExit($limit)
        if ($timedOut) { $process.Kill($true) }
        $process.WaitForExit()
        $text = $stdout.Result + $stderr.Result
        if ($timedOut) { $text += "`nCHILD-TIMED-OUT after $TimeoutSeconds s" }
        [pscustomobject]@{ ExitCode = $(if ($timedOut) { -1 } else { $process.ExitCode }); Text = $text; TimedOut = $timedOut }
    }
    finally { $process.Dispose() }
}

# The child's side: the same capture, results as JSON (one object per case), then a good call and a marker.
$script:ChildPrelude = @'
param([string] $ModulePath, [string] $Models, [string] $Work, [string] $Result)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $ModulePath 'Wuerstchen.psd1')
$PSDefaultParameterValues['*-Wuerstchen*:ExecutionProvider'] = 'Cpu'
$PSDefaultParameterValues['*-Wuerstchen*:ModelPath'] = $Models
foreach ($c in 'Clear-WuerstchenCache', 'Export-WuerstchenEmbedding', 'Import-WuerstchenEmbedding', 'Measure-WuerstchenPrompt') {
    $PSDefaultParameterValues.Remove("${c}:ExecutionProvider")
}
$Small = @{ Width = 128; Height = 128; Seed = 1; PriorSteps = 2; DecoderSteps = 2 }
$cases = [System.Collections.Generic.List[object]]::new()
function Capture([string] $Case, [string] $Out, [scriptblock] $Script) {
    $ErrorActionPreference = 'Continue'
    [GC]::Collect()
    $peak = [Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64
    $before = [GC]::GetTotalAllocatedBytes($true)
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $all = try { & $Script 2>&1 3>&1 } catch { $_ }
    $seconds = $watch.Elapsed.TotalSeconds
    $allocated = [GC]::GetTotalAllocatedBytes($true) - $before
    $peakGrowth = [Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64 - $peak
    $cases.Add([pscustomobject]@{
        Case      = $Case
        Errors    = @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] } | ForEach-Object {
                [pscustomobject]@{ Id = $_.FullyQualifiedErrorId; Category = "$($_.CategoryInfo.Category)"; Message = $_.Exception.Message; ExceptionType = $_.Exception.GetType().FullName } })
        Output    = @($all | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] -and $_ -isnot [System.Management.Automation.WarningRecord] } | ForEach-Object {
                if ($_ -is [Wuerstchen.Core.ModelCheckResult]) { "$($_.Stage)=$($_.Status)" } elseif ($_ -is [IO.FileInfo]) { $_.Name } else { "$_" } })
        Files     = @(if ($Out -and (Test-Path -LiteralPath $Out)) { Get-ChildItem -LiteralPath $Out -Force -Recurse | ForEach-Object Name })
        Allocated = $allocated
        PeakGrowth = $peakGrowth
        Seconds   = $seconds
    })
}
function Copy-Model([string] $Name) {
    $dir = Join-Path $Work "models/$Name"
    $null = New-Item -ItemType Directory -Force (Split-Path $dir)
    Copy-Item -LiteralPath $Models -Destination $dir -Recurse
    $dir
}
'@
$script:ChildEpilogue = @'
$next = New-WuerstchenImage 'the next good call' @Small -OutputPath (Join-Path $Work 'next')
$cases.Add([pscustomobject]@{ Case = 'next good call'; Output = @($next.Name); Errors = @(); Files = @(Get-ChildItem (Join-Path $Work 'next') -Force | ForEach-Object Name); Allocated = 0 })
ConvertTo-Json -InputObject $cases.ToArray() -Depth 6 | Set-Content -LiteralPath $Result -Encoding utf8
'CHILD-SURVIVED'
'@

function Invoke-ChildCases([string] $Name, [string] $Body, [int] $TimeoutSeconds = 0) {
    $work = Join-Path $TestDrive $Name
    $null = New-Item -ItemType Directory -Force $work
    $script = Join-Path $work 'child.ps1'
    Set-Content -LiteralPath $script -Value ($ChildPrelude + "`n" + $Body + "`n" + $ChildEpilogue) -Encoding utf8
    $result = Join-Path $work 'result.json'
    $run = Invoke-ChildPwsh $script @{ ModulePath = $ModulePath; Models = $Models; Work = $work; Result = $result } -TimeoutSeconds $TimeoutSeconds
    $byCase = @{}
    if (Test-Path $result) {
        foreach ($c in (Get-Content -LiteralPath $result -Raw | ConvertFrom-Json)) { $byCase[$c.Case] = $c }
    }
    [pscustomobject]@{ Work = $work; ExitCode = $run.ExitCode; Text = $run.Text; Cases = $byCase }
}

function Get-Crc32([byte[]] $Data) {
    if (-not ('PesterCrc32' -as [type])) {
        Add-Type -TypeDefinition 'public static class PesterCrc32 { public static uint Of(byte[] d) { uint c = uint.MaxValue; foreach (var b in d) { c ^= b; for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB88320u : c >> 1; } return ~c; } }'
    }
    [PesterCrc32]::Of($Data)
}
function Get-BigEndian([uint32] $Value) { $b = [BitConverter]::GetBytes($Value); [Array]::Reverse($b); $b }
function Get-PngChunk([string] $Type, [byte[]] $Data) {
    $typed = [byte[]] ([Text.Encoding]::ASCII.GetBytes($Type) + $Data)
    [byte[]] ((Get-BigEndian $Data.Length) + $typed + (Get-BigEndian (Get-Crc32 $typed)))
}

# A PNG whose header claims Width×Height (correct CRCs, no pixel data): a decompression bomb's header.
function New-PngHeaderOnly([string] $Path, [uint32] $Width, [uint32] $Height) {
    $ihdr = [byte[]] ((Get-BigEndian $Width) + (Get-BigEndian $Height) + [byte[]] (8, 2, 0, 0, 0))
    $png = [byte[]] (0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A) + (Get-PngChunk 'IHDR' $ihdr) + (Get-PngChunk 'IEND' ([byte[]]::new(0)))
    [IO.File]::WriteAllBytes($Path, [byte[]] $png)
}

# A good PNG ($Source) with a zTXt chunk inserted before IEND that inflates to $TextBytes bytes: a text-chunk bomb.
function New-PngTextBomb([string] $Source, [string] $Path, [long] $TextBytes) {
    $compressed = [IO.MemoryStream]::new()
    $z = [IO.Compression.ZLibStream]::new($compressed, [IO.Compression.CompressionLevel]::SmallestSize, $true)
    $block = [byte[]]::new(1MB)
    for ($done = 0; $done -lt $TextBytes; $done += $block.Length) { $z.Write($block, 0, [Math]::Min($block.Length, $TextBytes - $done)) }
    $z.Dispose()
    $bytes = [IO.File]::ReadAllBytes($Source)
    $iend = $bytes.Length - 12
    $data = [byte[]] ([Text.Encoding]::Latin1.GetBytes("Comment`0`0") + $compressed.ToArray())
    [IO.File]::WriteAllBytes($Path, [byte[]] ($bytes[0..($iend - 1)] + (Get-PngChunk 'zTXt' $data) + $bytes[$iend..($bytes.Length - 1)]))
}

# An animated GIF with a Width×Height canvas and $Frames one-pixel frames (the issue's 959-byte frame bomb at 8000×8000×40).
function New-GifFrameBomb([string] $Path, [uint16] $Width, [uint16] $Height, [int] $Frames) {
    $b = [Collections.Generic.List[byte]]::new()
    $b.AddRange([Text.Encoding]::ASCII.GetBytes('GIF89a'))
    $b.AddRange([BitConverter]::GetBytes($Width)); $b.AddRange([BitConverter]::GetBytes($Height))
    $b.AddRange([byte[]] (0x80, 0, 0, 0, 0, 0, 255, 255, 255))
    for ($i = 0; $i -lt $Frames; $i++) {
        $b.AddRange([byte[]] (0x21, 0xF9, 0x04, 0x04, 0x01, 0x00, 0x00, 0x00, 0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0x02, 0x02, 0x44, 0x01, 0x00))
    }
    $b.Add(0x3B)
    [IO.File]::WriteAllBytes($Path, $b.ToArray())
}
