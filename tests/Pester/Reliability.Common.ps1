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

# A child pwsh (the same PowerShell as this one; as a dotnet tool the process is dotnet + pwsh.dll).
function Invoke-ChildPwsh([string] $ScriptPath, [hashtable] $Parameters) {
    $ErrorActionPreference = 'Continue'
    $exe = [Environment]::ProcessPath
    [string[]] $pre = if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' } else { @() }
    $arguments = foreach ($k in $Parameters.Keys) { "-$k"; $Parameters[$k] }
    $text = & $exe @pre -NoProfile -NonInteractive -File $ScriptPath @arguments 2>&1 | Out-String
    [pscustomobject]@{ ExitCode = $LASTEXITCODE; Text = $text }
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
    $before = [GC]::GetTotalAllocatedBytes($true)
    $all = try { & $Script 2>&1 3>&1 } catch { $_ }
    $allocated = [GC]::GetTotalAllocatedBytes($true) - $before
    $cases.Add([pscustomobject]@{
        Case      = $Case
        Errors    = @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] } | ForEach-Object {
                [pscustomobject]@{ Id = $_.FullyQualifiedErrorId; Category = "$($_.CategoryInfo.Category)"; Message = $_.Exception.Message; ExceptionType = $_.Exception.GetType().FullName } })
        Output    = @($all | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] -and $_ -isnot [System.Management.Automation.WarningRecord] } | ForEach-Object {
                if ($_ -is [Wuerstchen.Core.ModelCheckResult]) { "$($_.Stage)=$($_.Status)" } elseif ($_ -is [IO.FileInfo]) { $_.Name } else { "$_" } })
        Files     = @(if ($Out -and (Test-Path -LiteralPath $Out)) { Get-ChildItem -LiteralPath $Out -Force -Recurse | ForEach-Object Name })
        Allocated = $allocated
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

function Invoke-ChildCases([string] $Name, [string] $Body) {
    $work = Join-Path $TestDrive $Name
    $null = New-Item -ItemType Directory -Force $work
    $script = Join-Path $work 'child.ps1'
    Set-Content -LiteralPath $script -Value ($ChildPrelude + "`n" + $Body + "`n" + $ChildEpilogue) -Encoding utf8
    $result = Join-Path $work 'result.json'
    $run = Invoke-ChildPwsh $script @{ ModulePath = $ModulePath; Models = $Models; Work = $work; Result = $result }
    $byCase = @{}
    if (Test-Path $result) {
        foreach ($c in (Get-Content -LiteralPath $result -Raw | ConvertFrom-Json)) { $byCase[$c.Case] = $c }
    }
    [pscustomobject]@{ Work = $work; ExitCode = $run.ExitCode; Text = $run.Text; Cases = $byCase }
}

# A PNG whose header claims Width×Height (correct CRCs, no pixel data): a decompression bomb's header.
function New-PngHeaderOnly([string] $Path, [uint32] $Width, [uint32] $Height) {
    function Get-Crc32([byte[]] $Data) {
        $c = [uint32]::MaxValue
        foreach ($b in $Data) {
            $c = $c -bxor $b
            for ($k = 0; $k -lt 8; $k++) { $c = if ($c -band 1) { ($c -shr 1) -bxor [uint32]3988292384 } else { $c -shr 1 } }
        }
        $c -bxor [uint32]::MaxValue
    }
    function Get-BigEndian([uint32] $Value) { $b = [BitConverter]::GetBytes($Value); [Array]::Reverse($b); $b }
    function Get-Chunk([string] $Type, [byte[]] $Data) {
        $typed = [Text.Encoding]::ASCII.GetBytes($Type) + $Data
        [byte[]] ((Get-BigEndian $Data.Length) + $typed + (Get-BigEndian (Get-Crc32 $typed)))
    }
    $ihdr = [byte[]] ((Get-BigEndian $Width) + (Get-BigEndian $Height) + [byte[]] (8, 2, 0, 0, 0))
    $png = [byte[]] (0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A) + (Get-Chunk 'IHDR' $ihdr) + (Get-Chunk 'IEND' ([byte[]]::new(0)))
    [IO.File]::WriteAllBytes($Path, [byte[]] $png)
}
