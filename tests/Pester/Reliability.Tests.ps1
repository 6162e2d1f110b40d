# Reliability matrix: every way a call can go wrong gives an ErrorRecord with a stable id, the right category and
# the offending value in its message; nothing partial or temporary is left in the output folder; the process
# survives (risky cases run in a child process or runspace); and the next good call works.
# The full-disk case is covered by xunit (IoTests.AtomicWriteLeavesNothingWhenTheWriterFails) and, through the
# engine's AtomicFile, by 'a full disk mid-write' below: a full disk cannot be simulated for a cmdlet here.

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')

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
}

Describe 'Invalid arguments to New-WuerstchenImage' {
    It 'rejects <Case> with <Id>, names the value and writes nothing' -ForEach @(
        @{ Case = '-Width 1000 (not a 128-pixel step)'; Params = @{ Width = 1000 }; Id = 'InvalidImageSize'; Names = @('Width 1000', '896', '1024') }
        @{ Case = '-Height 1000'; Params = @{ Height = 1000 }; Id = 'InvalidImageSize'; Names = @('Height 1000', '896', '1024') }
        @{ Case = '-Width 0'; Params = @{ Width = 0 }; Id = 'InvalidImageSize'; Names = @('Width 0', '128') }
        @{ Case = '-Width -128'; Params = @{ Width = -128 }; Id = 'InvalidImageSize'; Names = @('Width -128', '128') }
        @{ Case = '-Height -1'; Params = @{ Height = -1 }; Id = 'InvalidImageSize'; Names = @('Height -1') }
        @{ Case = '-Width 100000'; Params = @{ Width = 100000 }; Id = 'InvalidImageSize'; Names = @('Width 100000', '4096') }
        @{ Case = '-Height 4224 (just over the maximum)'; Params = @{ Height = 4224 }; Id = 'InvalidImageSize'; Names = @('Height 4224', '4096') }
        @{ Case = '-PriorSteps 0'; Params = @{ PriorSteps = 0 }; Id = 'InvalidStepCount'; Names = @('PriorSteps', 'got 0') }
        @{ Case = '-PriorSteps -5'; Params = @{ PriorSteps = -5 }; Id = 'InvalidStepCount'; Names = @('PriorSteps', 'got -5') }
        @{ Case = '-DecoderSteps -1'; Params = @{ DecoderSteps = -1 }; Id = 'InvalidStepCount'; Names = @('DecoderSteps', 'got -1') }
        @{ Case = '-DecoderSteps 0'; Params = @{ DecoderSteps = 0 }; Id = 'InvalidStepCount'; Names = @('DecoderSteps', 'got 0') }
        @{ Case = '-PriorSteps 1001 (over the maximum)'; Params = @{ PriorSteps = 1001 }; Id = 'InvalidStepCount'; Names = @('PriorSteps', '1001') }
        @{ Case = 'ascending -PriorTimesteps 0,0.5,1'; Params = @{ PriorTimesteps = [float[]] (0, 0.5, 1) }; Id = 'InvalidTimesteps'; Names = @('PriorTimesteps', '0, 0.5, 1') }
        @{ Case = '-PriorTimesteps 1,0.5 (does not reach 0)'; Params = @{ PriorTimesteps = [float[]] (1, 0.5) }; Id = 'InvalidTimesteps'; Names = @('PriorTimesteps', '1, 0.5') }
        @{ Case = '-PriorTimesteps 0.7,0.3,0 (does not start at 1)'; Params = @{ PriorTimesteps = [float[]] (0.7, 0.3, 0) }; Id = 'InvalidTimesteps'; Names = @('PriorTimesteps', '0.7, 0.3, 0') }
        @{ Case = '-PriorTimesteps 1,1,0 (not strictly descending)'; Params = @{ PriorTimesteps = [float[]] (1, 1, 0) }; Id = 'InvalidTimesteps'; Names = @('PriorTimesteps', '1, 1, 0') }
        @{ Case = '-PriorTimesteps 1,NaN,0'; Params = @{ PriorTimesteps = [float[]] (1, [float]::NaN, 0) }; Id = 'InvalidTimesteps'; Names = @('PriorTimesteps', 'NaN') }
        @{ Case = '-PriorTimesteps 1.5,0.5,0 (outside [0,1])'; Params = @{ PriorTimesteps = [float[]] (1.5, 0.5, 0) }; Id = 'InvalidTimesteps'; Names = @('PriorTimesteps', '1.5') }
        @{ Case = 'a single timestep -PriorTimesteps 1'; Params = @{ PriorTimesteps = [float[]] @(1) }; Id = 'InvalidTimesteps'; Names = @('PriorTimesteps', 'at least two') }
        @{ Case = '-DecoderTimesteps 1,0.4,0.6,0 (not descending)'; Params = @{ DecoderTimesteps = [float[]] (1, 0.4, 0.6, 0) }; Id = 'InvalidTimesteps'; Names = @('DecoderTimesteps', '1, 0.4, 0.6, 0') }
        @{ Case = "text -PriorTimesteps '0, 0.5, 1'"; Params = @{ PriorTimesteps = '0, 0.5, 1' }; Id = 'InvalidTimesteps'; Names = @('PriorTimesteps', '0, 0.5, 1') }
        @{ Case = '-PriorSteps together with -PriorTimesteps'; Params = @{ PriorSteps = 3; PriorTimesteps = [float[]] (1, 0) }; Id = 'ConflictingParameters'; Names = @('PriorSteps 3', 'PriorTimesteps 1, 0') }
        @{ Case = '-PriorGuidanceScale NaN'; Params = @{ PriorGuidanceScale = [float]::NaN }; Id = 'InvalidGuidanceScale'; Names = @('PriorGuidanceScale', 'NaN') }
        @{ Case = '-PriorGuidanceScale -1'; Params = @{ PriorGuidanceScale = -1 }; Id = 'InvalidGuidanceScale'; Names = @('PriorGuidanceScale', 'got -1') }
        @{ Case = '-DecoderGuidanceScale -1'; Params = @{ DecoderGuidanceScale = -1 }; Id = 'InvalidGuidanceScale'; Names = @('DecoderGuidanceScale', 'got -1') }
        @{ Case = '-DecoderGuidanceScale NaN'; Params = @{ DecoderGuidanceScale = [float]::NaN }; Id = 'InvalidGuidanceScale'; Names = @('DecoderGuidanceScale', 'NaN') }
        @{ Case = '-PriorGuidanceScale +Infinity'; Params = @{ PriorGuidanceScale = [float]::PositiveInfinity }; Id = 'InvalidGuidanceScale'; Names = @('PriorGuidanceScale', 'Infinity') }
        @{ Case = '-ImagesPerPrompt 0'; Params = @{ ImagesPerPrompt = 0 }; Id = 'InvalidImagesPerPrompt'; Names = @('ImagesPerPrompt', 'got 0') }
        @{ Case = '-ImagesPerPrompt 65'; Params = @{ ImagesPerPrompt = 65 }; Id = 'InvalidImagesPerPrompt'; Names = @('ImagesPerPrompt', 'got 65') }
    ) {
        $p = $Small.Clone()
        foreach ($k in $Params.Keys) { $p[$k] = $Params[$k] }
        if ($Params.ContainsKey('PriorTimesteps') -and -not $Params.ContainsKey('PriorSteps')) { $p.Remove('PriorSteps') }
        if ($Params.ContainsKey('DecoderTimesteps')) { $p.Remove('DecoderSteps') }
        $dir = Join-Path $TestDrive ('arg-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        $r = Invoke-Capture { New-WuerstchenImage 'a red apple' @p -OutputPath $dir }
        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] $Id 'InvalidArgument' $Names
        Assert-NothingWritten $dir
        Assert-NextCallWorks
    }

    It 'rejects <Case> for Get-WuerstchenEmbedding and ConvertFrom-WuerstchenEmbedding too' -ForEach @(
        @{ Case = 'Get -Width 1000'; Get = @{ Width = 1000 }; Id = 'InvalidImageSize'; Names = @('Width 1000') }
        @{ Case = 'Get -PriorSteps 0'; Get = @{ PriorSteps = 0 }; Id = 'InvalidStepCount'; Names = @('PriorSteps', 'got 0') }
        @{ Case = 'Get -PriorGuidanceScale NaN'; Get = @{ PriorGuidanceScale = [float]::NaN }; Id = 'InvalidGuidanceScale'; Names = @('NaN') }
        @{ Case = 'ConvertFrom -DecoderSteps -1'; Convert = @{ DecoderSteps = -1 }; Id = 'InvalidStepCount'; Names = @('DecoderSteps', 'got -1') }
        @{ Case = 'ConvertFrom -DecoderTimesteps 0,1'; Convert = @{ DecoderTimesteps = [float[]] (0, 1) }; Id = 'InvalidTimesteps'; Names = @('DecoderTimesteps', '0, 1') }
        @{ Case = 'ConvertFrom -DecoderGuidanceScale -1'; Convert = @{ DecoderGuidanceScale = -1 }; Id = 'InvalidGuidanceScale'; Names = @('DecoderGuidanceScale', 'got -1') }
    ) {
        $dir = Join-Path $TestDrive ('stage-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        if ($Get) {
            $p = @{ Width = 128; Height = 128; Seed = 1; PriorSteps = 2 }
            foreach ($k in $Get.Keys) { $p[$k] = $Get[$k] }
            $r = Invoke-Capture { Get-WuerstchenEmbedding 'a red apple' @p }
        }
        else {
            $e = Get-WuerstchenEmbedding 'a red apple' -Width 128 -Height 128 -Seed 1 -PriorSteps 2
            $r = Invoke-Capture { $e | ConvertFrom-WuerstchenEmbedding @Convert -OutputPath $dir }
        }
        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] $Id 'InvalidArgument' $Names
        Assert-NothingWritten $dir
        Assert-NextCallWorks
    }
}

Describe 'Prompts' {
    It 'rejects an empty prompt array @() when binding -Prompt' {
        $dir = Join-Path $TestDrive 'empty-array'
        $r = Invoke-Capture { New-WuerstchenImage -Prompt @() @Small -OutputPath $dir }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'ParameterArgumentValidationErrorEmptyArrayNotAllowed' 'InvalidData' @("'Prompt'", 'empty array')
        Assert-NothingWritten $dir
        Assert-NextCallWorks
    }

    It 'does nothing for an empty array piped in (no prompt, no error, no file)' {
        $dir = Join-Path $TestDrive 'empty-pipe'
        $r = Invoke-Capture { @() | New-WuerstchenImage @Small -OutputPath $dir }
        $r.Errors | Should -BeNullOrEmpty
        $r.Output | Should -BeNullOrEmpty
        Assert-NothingWritten $dir
    }

    It 'rejects <Case>' -ForEach @(
        @{ Case = 'a null prompt'; Prompt = $null; Id = 'ParameterArgumentValidationError'; Names = @("'Prompt'", 'null') }
        @{ Case = 'a null among the prompts'; Prompt = @('a cat', $null); Id = 'ParameterArgumentValidationError'; Names = @("'Prompt'", 'null') }
    ) {
        $dir = Join-Path $TestDrive ('null-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        $r = Invoke-Capture { New-WuerstchenImage -Prompt $Prompt @Small -OutputPath $dir }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] $Id 'InvalidData' $Names
        Assert-NothingWritten $dir
        Assert-NextCallWorks
    }

    It 'rejects more than 256 prompts in one call, naming the count' {
        $dir = Join-Path $TestDrive 'many'
        $r = Invoke-Capture { New-WuerstchenImage -Prompt (1..257 | ForEach-Object { "prompt $_" }) @Small -OutputPath $dir }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'TooManyPrompts' 'InvalidArgument' @('257', '256')
        Assert-NothingWritten $dir
    }

    It 'generates from a 10,000-character prompt, truncated, with one warning saying so' {
        $long = ((1..2100 | ForEach-Object { "w$($_ % 10)rd" }) -join ' ').Substring(0, 10000)
        $long.Length | Should -Be 10000
        $dir = Join-Path $TestDrive 'long'
        $r = Invoke-Capture { New-WuerstchenImage -Prompt $long @Small -OutputPath $dir }
        $r.Errors | Should -BeNullOrEmpty
        @($r.Output).Count | Should -Be 1
        $r.Output[0].Prompt | Should -Be $long
        (Get-Rgb $r.Output[0].FullName).Width | Should -Be 128
        [Wuerstchen.Core.IO.PngImage]::ReadText($r.Output[0].FullName)['prompt'] | Should -Be $long
        # both text encoders truncate it; the user is told once
        $r.Warnings.Count | Should -Be 1
        $r.Warnings[0] | Should -Match "^The prompt 'w1rd w2rd .*\.\.\.' has \d+ tokens; only the first 75 are used\. Dropped: '.+'\.$"
        Assert-NoTemporaryFile $dir
        Assert-NextCallWorks
    }

    It 'a truncation warning under -WarningAction Stop ends the call, and nothing is generated after it' {
        $dir = Join-Path $TestDrive 'warning-stop'
        $long = 'word ' * 200
        $err = $null
        try { New-WuerstchenImage $long @Small -OutputPath $dir -WarningAction Stop -WarningVariable w } catch { $err = $_ }
        Assert-WuerstchenError $err 'ActionPreferenceStop' 'OperationStopped' @('WarningPreference', 'only the first 75 are used')
        # the engine stopped with the call: no image appears later
        Start-Sleep -Milliseconds 1500
        Assert-NothingWritten $dir
        Assert-NextCallWorks
    }
}

Describe 'CSV input with bad rows' {
    It 'writes the good rows and gives one non-terminating error per bad row under the default ErrorActionPreference' {
        $csv = Join-Path $TestDrive 'rows.csv'
        @'
Prompt,Seed,Width,Height,PriorSteps,DecoderSteps,PriorTimesteps,PriorGuidanceScale
"first good row",11,128,128,2,2,,
"bad size",12,1000,128,2,2,,
"bad timesteps",13,128,128,,2,"0, 0.5, 1",
"bad guidance",14,128,128,2,2,,NaN
"last good row",15,256,128,2,2,,
'@ | Set-Content $csv
        $dir = Join-Path $TestDrive 'csv'
        # a fresh runspace: default preferences, as a user's session has them
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$(Join-Path $ModulePath 'Wuerstchen.psd1')'; Import-Csv '$csv' | New-WuerstchenImage -ExecutionProvider Cpu -ModelPath '$Models' -OutputPath '$dir'")
            $files = @($ps.Invoke())
            $ps.InvocationStateInfo.State | Should -Be 'Completed'
            $ps.HadErrors | Should -BeTrue
            $files.Count | Should -Be 2
            $files.Prompt | Should -Be @('first good row', 'last good row')
            $files.Seed | Should -Be @(11, 15)
            (Get-Rgb $files[1].FullName).Width | Should -Be 256
            $errors = @($ps.Streams.Error)
            $errors.Count | Should -Be 3
            Assert-WuerstchenError $errors[0] 'InvalidImageSize' 'InvalidArgument' @('Width 1000')
            Assert-WuerstchenError $errors[1] 'InvalidTimesteps' 'InvalidArgument' @('PriorTimesteps', '0, 0.5, 1')
            Assert-WuerstchenError $errors[2] 'InvalidGuidanceScale' 'InvalidArgument' @('PriorGuidanceScale', 'NaN')
            @(Get-ChildItem $dir -Force).Name | Sort-Object | Should -Be @('first-good-row-11-0.png', 'last-good-row-15-0.png')
            Assert-NoTemporaryFile $dir
            # the same runspace goes on working
            $ps.Commands.Clear()
            $null = $ps.AddScript("New-WuerstchenImage 'after the csv' -Width 128 -Height 128 -Seed 1 -PriorSteps 2 -DecoderSteps 2 -ExecutionProvider Cpu -ModelPath '$Models' -OutputPath '$dir'")
            $next = @($ps.Invoke())
            $next.Count | Should -Be 1
            Test-Path $next[0].FullName | Should -BeTrue
        }
        finally { $ps.Dispose() }
    }

    It 'reports a <Column> cell that is not a number instead of silently using the default' -ForEach @(
        @{ Column = 'Seed'; Value = 'abc'; Names = @("'Seed'", "'abc'") }
        @{ Column = 'Width'; Value = 'wide'; Names = @("'Width'", "'wide'") }
        @{ Column = 'PriorSteps'; Value = '3x'; Names = @("'PriorSteps'", "'3x'") }
        @{ Column = 'PriorGuidanceScale'; Value = 'high'; Names = @("'PriorGuidanceScale'", "'high'") }
        @{ Column = 'Seed'; Value = '99999999999999999999'; Names = @("'Seed'", "'99999999999999999999'") }
        @{ Column = 'PriorTimesteps'; Value = '1, x, 0'; Names = @("'PriorTimesteps'", "'x'") }
    ) {
        $row = [ordered]@{ Prompt = 'typo row'; Seed = '21'; Width = '128'; Height = '128'; PriorSteps = '2'; DecoderSteps = '2'; PriorGuidanceScale = '' }
        if ($Column -eq 'PriorTimesteps') { $row.Remove('PriorSteps') }
        $row[$Column] = $Value
        $rows = @([pscustomobject] $row, [pscustomobject]@{ Prompt = 'good row'; Seed = '22'; Width = '128'; Height = '128'; PriorSteps = '2'; DecoderSteps = '2' })
        $dir = Join-Path $TestDrive ('typo-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        $r = Invoke-Capture { $rows | New-WuerstchenImage -OutputPath $dir }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'ParameterArgumentTransformationError' 'InvalidData' $Names
        @($r.Output).Count | Should -Be 1
        $r.Output[0].Prompt | Should -Be 'good row'
        @(Get-ChildItem $dir -Force).Name | Should -Be @('good-row-22-0.png')
    }
}

Describe 'Broken model folders (in a child process)' {
    BeforeAll {
        $script:Child = Invoke-ChildCases 'models' @'
function OutDir([string] $Name) { Join-Path $Work "out/$Name" }
Capture 'missing folder' (OutDir 'missing-folder') { New-WuerstchenImage 'x' @Small -ModelPath (Join-Path $Work 'models/no-such-model') -OutputPath (OutDir 'missing-folder') }
Capture 'missing folder test' $null { Test-WuerstchenModel -ModelPath (Join-Path $Work 'models/no-such-model') }

$m = Copy-Model 'missing-file'; Remove-Item (Join-Path $m 'prior/model.onnx')
Capture 'missing file' (OutDir 'missing-file') { New-WuerstchenImage 'x' @Small -ModelPath $m -OutputPath (OutDir 'missing-file') }
Capture 'missing file test' $null { Test-WuerstchenModel -ModelPath $m }

$m = Copy-Model 'zero-byte'; [IO.File]::WriteAllBytes((Join-Path $m 'decoder/model.onnx'), [byte[]]::new(0))
Capture 'zero-byte' (OutDir 'zero-byte') { New-WuerstchenImage 'x' @Small -ModelPath $m -OutputPath (OutDir 'zero-byte') }
Capture 'zero-byte test' $null { Test-WuerstchenModel -ModelPath $m }

$m = Copy-Model 'corrupt'; $corrupt = Join-Path $m 'vqgan/model.onnx'
[IO.File]::WriteAllBytes($corrupt, [byte[]] (1..4096 | ForEach-Object { ($_ * 131 + 7) % 256 }))
Capture 'corrupt' (OutDir 'corrupt') { New-WuerstchenImage 'x' @Small -ModelPath $m -OutputPath (OutDir 'corrupt') }
Capture 'corrupt test' $null { Test-WuerstchenModel -ModelPath $m }
# repaired in place: the failed load is not remembered
Copy-Item (Join-Path $Models 'vqgan/model.onnx') $corrupt -Force
Capture 'repaired' (OutDir 'repaired') { New-WuerstchenImage 'x' @Small -ModelPath $m -OutputPath (OutDir 'repaired') }

$m = Copy-Model 'renamed-input'; $p = Join-Path $m 'prior/model.onnx'
$text = [Text.Encoding]::Latin1.GetString([IO.File]::ReadAllBytes($p))
$count = ([regex]::Matches($text, 'timestep_ratio')).Count
[IO.File]::WriteAllBytes($p, [Text.Encoding]::Latin1.GetBytes($text.Replace('timestep_ratio', 'timestep_ratiX')))
Capture 'renamed input' (OutDir 'renamed-input') { "replaced $count"; New-WuerstchenImage 'x' @Small -ModelPath $m -OutputPath (OutDir 'renamed-input') }
Capture 'renamed input test' $null { Test-WuerstchenModel -ModelPath $m }

$m = Copy-Model 'text-width'
Copy-Item (Join-Path $m 'decoder_text_encoder/model.onnx') (Join-Path $m 'prior_text_encoder/model.onnx') -Force
Capture 'text width' (OutDir 'text-width') { New-WuerstchenImage 'x' @Small -ModelPath $m -OutputPath (OutDir 'text-width') }
Capture 'text width test' $null { Test-WuerstchenModel -ModelPath $m }

Capture 'good test' $null { Test-WuerstchenModel }
'@
        $script:ModelRoot = Join-Path $Child.Work 'models'
    }

    It 'the child process survives every case and its next good call works' {
        $Child.ExitCode | Should -Be 0 -Because $Child.Text
        $Child.Text | Should -Match 'CHILD-SURVIVED'
        $Child.Cases['next good call'].Files | Should -Be @('the-next-good-call-1-0.png')
        Assert-NextCallWorks
    }

    It 'New-WuerstchenImage fails on a <Case> with <Id> naming <Names>' -ForEach @(
        @{ Case = 'missing folder'; Id = 'ModelNotFound'; Category = 'ObjectNotFound'; Names = @('no-such-model', 'export_wuerstchen.py') }
        @{ Case = 'missing file'; Id = 'ModelFileNotFound'; Category = 'ObjectNotFound'; Names = @('missing-file/prior/model.onnx') }
        @{ Case = 'zero-byte'; Id = 'InvalidModelFile'; Category = 'InvalidData'; Names = @('zero-byte/decoder/model.onnx', '0 bytes') }
        @{ Case = 'corrupt'; Id = 'InvalidModelFile'; Category = 'InvalidData'; Names = @('corrupt/vqgan/model.onnx', 'Protobuf') }
        @{ Case = 'renamed input'; Id = 'ModelContractMismatch'; Category = 'InvalidData'; Names = @('renamed-input/prior/model.onnx', "'timestep_ratio'", 'timestep_ratiX') }
        @{ Case = 'text width'; Id = 'TextWidthMismatch'; Category = 'InvalidData'; Names = @('text-width/prior_text_encoder/model.onnx', 'text-width/prior/model.onnx', 'width 6', 'width 8') }
    ) {
        $c = $Child.Cases[$Case]
        $c | Should -Not -BeNullOrEmpty -Because $Child.Text
        $c.Errors.Count | Should -Be 1
        $info = $c.Errors[0]
        $info.Id | Should -BeLike '*NewWuerstchenImageCommand'
        $names = foreach ($n in $Names) { if ($n -match '^[\w-]+/') { Join-Path $ModelRoot ($n -replace '/', [IO.Path]::DirectorySeparatorChar) } else { $n } }
        Assert-ErrorInfo $info $Id $Category $names
        @($c.Output | Where-Object { $_ -like '*.png' }) | Should -BeNullOrEmpty
        # the output folder is created before the model is opened: it must be empty, no .png and no .tmp
        $c.Files | Should -BeNullOrEmpty
    }

    It 'the renamed-input case really renamed the tensor' {
        $Child.Cases['renamed input'].Output[0] | Should -Match '^replaced [1-9]'
    }

    It 'picks up a model file repaired after a failed load (a failed load is not cached)' {
        $c = $Child.Cases['repaired']
        $c.Errors | Should -BeNullOrEmpty
        $c.Files | Should -Be @('x-1-0.png')
    }

    It 'Test-WuerstchenModel reports every stage Ok on the good folder' {
        $c = $Child.Cases['good test']
        $c.Errors | Should -BeNullOrEmpty
        $c.Output | Should -Be @('PriorTokenizer=Ok', 'PriorTextEncoder=Ok', 'Prior=Ok', 'DecoderTokenizer=Ok', 'DecoderTextEncoder=Ok', 'Decoder=Ok', 'Vqgan=Ok', 'Effnet=Ok')
        # and in this process too
        $r = Test-WuerstchenModel
        @($r | Where-Object Status -ne 'Ok') | Should -BeNullOrEmpty
        @($r).Count | Should -Be 8
    }

    It 'Test-WuerstchenModel on a <Case> folder: <Stage> is <Status>, the error names file, expected and found' -ForEach @(
        @{ Case = 'missing folder test'; Stage = $null; Id = 'ModelNotFound'; Category = 'ObjectNotFound'; Names = @('no-such-model') }
        @{ Case = 'missing file test'; Stage = 'Prior'; Status = 'Missing'; Id = 'ModelFileNotFound'; Category = 'ObjectNotFound'; Names = @('missing-file/prior/model.onnx', 'expected: model.onnx; found: absent') }
        @{ Case = 'zero-byte test'; Stage = 'Decoder'; Status = 'Invalid'; Id = 'InvalidModelFile'; Category = 'InvalidData'; Names = @('zero-byte/decoder/model.onnx', 'expected: a loadable ONNX model; found: an empty file (0 bytes)') }
        @{ Case = 'corrupt test'; Stage = 'Vqgan'; Status = 'Invalid'; Id = 'InvalidModelFile'; Category = 'InvalidData'; Names = @('corrupt/vqgan/model.onnx', 'expected: a loadable ONNX model; found: 4096 bytes that ONNX Runtime cannot load') }
        @{ Case = 'renamed input test'; Stage = 'Prior'; Status = 'Invalid'; Id = 'ModelContractMismatch'; Category = 'InvalidData'; Names = @('renamed-input/prior/model.onnx', "expected: input 'timestep_ratio'; found: sample, timestep_ratiX, clip_text") }
        @{ Case = 'text width test'; Stage = 'Prior'; Status = 'Invalid'; Id = 'TextWidthMismatch'; Category = 'InvalidData'; Names = @('text-width/prior/model.onnx', 'text-width/prior_text_encoder/model.onnx', 'expected: 8; found: 6') }
    ) {
        $c = $Child.Cases[$Case]
        $c | Should -Not -BeNullOrEmpty -Because $Child.Text
        $c.Errors.Count | Should -Be 1
        $c.Errors[0].Id | Should -BeLike '*TestWuerstchenModelCommand'
        $names = foreach ($n in $Names) { if ($n -match '^[\w-]+/') { Join-Path $ModelRoot ($n -replace '/', [IO.Path]::DirectorySeparatorChar) } else { $n } }
        Assert-ErrorInfo $c.Errors[0] $Id $Category $names
        if ($Stage) {
            $c.Output | Should -Contain "$Stage=$Status"
            # only the broken stage is reported as broken
            @($c.Output | Where-Object { $_ -notlike '*=Ok' }) | Should -Be @("$Stage=$Status")
        }
    }
}

Describe 'Bad input images and embedding files (in a child process)' {
    BeforeAll {
        # a decompression bomb's header (IHDR claims 100000×100000, CRCs correct), built before the child reads it
        $script:InputDir = Join-Path $TestDrive 'inputs/in'
        $null = New-Item -ItemType Directory -Force $InputDir
        New-PngHeaderOnly (Join-Path $InputDir 'bomb.png') 100000 100000
        $script:Child = Invoke-ChildCases 'inputs' @'
$in = Join-Path $Work 'in'; $null = New-Item -ItemType Directory -Force $in
$good = New-WuerstchenImage 'source' -Width 256 -Height 256 -Seed 3 -PriorSteps 2 -DecoderSteps 2 -OutputPath (Join-Path $in 'good.png')
[IO.File]::WriteAllBytes((Join-Path $in 'garbage.png'), [byte[]] (1..5000 | ForEach-Object { ($_ * 131 + 7) % 256 }))
$bytes = [IO.File]::ReadAllBytes($good.FullName)
[IO.File]::WriteAllBytes((Join-Path $in 'truncated.png'), $bytes[0..([int]($bytes.Length / 2))])
Capture 'garbage image' $null { Get-WuerstchenEmbedding -ImagePath (Join-Path $in 'garbage.png') -Seed 1 }
Capture 'truncated image' $null { Get-WuerstchenEmbedding -ImagePath (Join-Path $in 'truncated.png') -Seed 1 }
Capture 'bomb image' $null { Get-WuerstchenEmbedding -ImagePath (Join-Path $in 'bomb.png') -Seed 1 }
Capture 'missing image' $null { Get-WuerstchenEmbedding -ImagePath (Join-Path $in 'none.png') -Seed 1 }
Capture 'good image' $null { Get-WuerstchenEmbedding -ImagePath $good.FullName -Seed 1 }

function New-Npy([string] $Name, [string] $Header, [int] $DataBytes, [byte] $Major = 1, [Nullable[uint32]] $ClaimedLength = $null) {
    $h = $Header + (' ' * (63 - ($Header.Length + 10) % 64)) + "`n"
    $hb = [Text.Encoding]::ASCII.GetBytes($h)
    $len = if ($Major -eq 1) { [BitConverter]::GetBytes([uint16] $hb.Length) } else { [BitConverter]::GetBytes([uint32] $(if ($null -ne $ClaimedLength) { $ClaimedLength } else { $hb.Length })) }
    $all = [byte[]] (0x93) + [Text.Encoding]::ASCII.GetBytes('NUMPY') + [byte[]] ($Major, 0) + $len + $hb + [byte[]]::new($DataBytes)
    [IO.File]::WriteAllBytes((Join-Path $in $Name), [byte[]] $all)
}
[IO.File]::WriteAllText((Join-Path $in 'text.npy'), 'this is not a numpy file')
New-Npy 'huge-header.npy' "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 16, 3, 3), }" 576 -Major 2 -ClaimedLength 0x7FFFFFFF
New-Npy 'huge-shape.npy' "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 16, 512, 512), }" 64
New-Npy 'large-shape.npy' "{'descr': '<f4', 'fortran_order': False, 'shape': (60, 16, 512, 512), }" 64
New-Npy 'truncated.npy' "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 16, 24, 24), }" 64
New-Npy 'int64.npy' "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 16, 3, 3), }" 1152
New-Npy 'fortran.npy' "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 16, 3, 3), }" 576
New-Npy 'channels.npy' "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4, 3, 3), }" 144
New-Npy 'no-rows.npy' "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 16, 3, 3), }" 0
New-Npy 'no-shape.npy' "{'descr': '<f4', 'fortran_order': False, }" 0
New-Npy 'good.npy' "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 16, 3, 3), }" 576
New-Npy 'bad-sidecar.npy' "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 16, 3, 3), }" 576
Set-Content (Join-Path $in 'bad-sidecar.json') '{ "format": "wuerstchen-embeddings", "embeddings": [ '
foreach ($n in 'text', 'huge-header', 'huge-shape', 'large-shape', 'truncated', 'int64', 'fortran', 'channels', 'no-rows', 'no-shape', 'bad-sidecar', 'good') {
    Capture "npy $n" $null { Import-WuerstchenEmbedding (Join-Path $in "$n.npy") }
}
'@
    }

    It 'the child process survives every case and its next good call works' {
        $Child.ExitCode | Should -Be 0 -Because $Child.Text
        $Child.Text | Should -Match 'CHILD-SURVIVED'
        $Child.Cases['next good call'].Files | Should -Be @('the-next-good-call-1-0.png')
        Assert-NextCallWorks
    }

    It 'Get-WuerstchenEmbedding -ImagePath rejects a <Case> with <Id>' -ForEach @(
        @{ Case = 'garbage image'; File = 'garbage.png'; Id = 'InvalidImageFile'; Category = 'InvalidData'; Names = @() }
        @{ Case = 'truncated image'; File = 'truncated.png'; Id = 'InvalidImageFile'; Category = 'InvalidData'; Names = @() }
        @{ Case = 'bomb image'; File = 'bomb.png'; Id = 'ImageTooLarge'; Category = 'InvalidData'; Names = @('100000×100000') }
        @{ Case = 'missing image'; File = 'none.png'; Id = 'ImageFileNotFound'; Category = 'ObjectNotFound'; Names = @() }
    ) {
        $c = $Child.Cases[$Case]
        $c | Should -Not -BeNullOrEmpty -Because $Child.Text
        $c.Errors.Count | Should -Be 1
        $c.Output | Should -BeNullOrEmpty
        Assert-ErrorInfo $c.Errors[0] $Id $Category (@((Join-Path $InputDir $File)) + $Names)
        # header-only checks: nothing near the claimed size is allocated
        $c.Allocated | Should -BeLessThan 64MB
    }

    It 'the decompression bomb has a valid header claiming 100000×100000, and is rejected in this process too' {
        $bomb = Join-Path $InputDir 'bomb.png'
        $null = [Wuerstchen.Core.IO.PngImage]::ReadText($bomb) # parses the header (and loads ImageSharp)
        # ImageSharp lives in the module's own AssemblyLoadContext (hidden from type literals): reach it through the engine's context
        $imageSharp = [Runtime.Loader.AssemblyLoadContext]::GetLoadContext([Wuerstchen.Core.IO.PngImage].Assembly).Assemblies | Where-Object { $_.GetName().Name -eq 'SixLabors.ImageSharp' }
        $info = $imageSharp.GetType('SixLabors.ImageSharp.Image', $true)::Identify($bomb)
        $info.Width | Should -Be 100000
        $info.Height | Should -Be 100000
        $before = [GC]::GetTotalAllocatedBytes($true)
        $r = Invoke-Capture { Get-WuerstchenEmbedding -ImagePath $bomb -Seed 1 }
        ([GC]::GetTotalAllocatedBytes($true) - $before) | Should -BeLessThan 64MB
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'ImageTooLarge' 'InvalidData' @($bomb, '100000×100000')
        Assert-NextCallWorks
    }

    It 'Get-WuerstchenEmbedding -ImagePath works on a good image in the same child' {
        $c = $Child.Cases['good image']
        $c.Errors | Should -BeNullOrEmpty
        $c.Output | Should -Be @("WuerstchenEmbedding [16,24,24] '' seed 1") # 256×256 is encoded at 1024×1024 (ImageFit)
    }

    It 'Import-WuerstchenEmbedding rejects <File> with InvalidEmbeddingFile naming <Names>' -ForEach @(
        @{ File = 'text.npy'; Names = @('magic') }
        @{ File = 'huge-header.npy'; Names = @('2147483647') }
        @{ File = 'huge-shape.npy'; Names = @('100000, 16, 512, 512') }
        @{ File = 'large-shape.npy'; Names = @('truncated', '1006632960') }
        @{ File = 'truncated.npy'; Names = @('truncated', '36864', '64 remain') }
        @{ File = 'int64.npy'; Names = @("'<i8'") }
        @{ File = 'fortran.npy'; Names = @('Fortran') }
        @{ File = 'channels.npy'; Names = @('(1, 4, 3, 3)', '[N,16,h,w]') }
        @{ File = 'no-rows.npy'; Names = @('(0, 16, 3, 3)') }
        @{ File = 'no-shape.npy'; Names = @('malformed') }
        @{ File = 'bad-sidecar.npy'; Names = @('bad-sidecar.json') }
    ) {
        $c = $Child.Cases["npy $($File -replace '\.npy$')"]
        $c | Should -Not -BeNullOrEmpty -Because $Child.Text
        $c.Errors.Count | Should -Be 1
        $c.Output | Should -BeNullOrEmpty
        $path = Join-Path $InputDir $File
        if ($File -eq 'bad-sidecar.npy') { $path = [IO.Path]::ChangeExtension($path, '.json') }
        Assert-ErrorInfo $c.Errors[0] 'InvalidEmbeddingFile' 'InvalidData' (@($path) + $Names)
        # validated before anything large is allocated (the header claims up to 2 GiB or 400 GiB of floats)
        $c.Allocated | Should -BeLessThan 16MB
    }

    It 'Import-WuerstchenEmbedding reads a good file in the same child' {
        $c = $Child.Cases['npy good']
        $c.Errors | Should -BeNullOrEmpty
        $c.Output | Should -Be @("WuerstchenEmbedding [16,3,3] '' seed 0")
    }
}

Describe 'Output paths' {
    It 'a read-only output folder gives a write error and leaves nothing' {
        $ro = Join-Path $TestDrive 'readonly'
        $null = New-Item -ItemType Directory $ro
        $readOnlyWorks = $false
        if (-not $IsWindows) {
            chmod 555 $ro
            # root (as in this container) may still write there: then use a folder that can never be created
            try { [IO.File]::WriteAllText((Join-Path $ro 'probe'), 'x'); Remove-Item (Join-Path $ro 'probe') } catch { $readOnlyWorks = $true }
        }
        if ($readOnlyWorks) {
            $dir = $ro; $id = 'OutputWriteFailed'; $names = @($ro)
        }
        else {
            Set-Content (Join-Path $TestDrive 'afile') 'a regular file'
            $dir = Join-Path $TestDrive 'afile/sub'; $id = 'OutputFolderNotCreated'; $names = @($dir)
        }
        try {
            $r = Invoke-Capture { New-WuerstchenImage 'read only' @Small -OutputPath $dir }
            $r.Output | Should -BeNullOrEmpty
            $r.Errors.Count | Should -Be 1
            Assert-WuerstchenError $r.Errors[0] $id 'WriteError' $names
            Assert-NothingWritten $dir
        }
        finally { if (-not $IsWindows) { chmod 755 $ro } }
        Assert-NextCallWorks
    }

    It 'a folder under a regular file cannot be created: OutputFolderNotCreated' {
        Set-Content (Join-Path $TestDrive 'plainfile') 'a regular file'
        $dir = Join-Path $TestDrive 'plainfile/sub'
        $r = Invoke-Capture { New-WuerstchenImage 'under a file' @Small -OutputPath $dir }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'OutputFolderNotCreated' 'WriteError' @($dir)
        (Get-Content (Join-Path $TestDrive 'plainfile')) | Should -Be 'a regular file'
        Assert-NoTemporaryFile $TestDrive
        Assert-NextCallWorks
    }

    It 'Export-WuerstchenEmbedding into a folder that cannot exist: OutputWriteFailed, no temporary file' {
        Set-Content (Join-Path $TestDrive 'npyfile') 'a regular file'
        $target = Join-Path $TestDrive 'npyfile/e.npy'
        $e = Get-WuerstchenEmbedding 'x' -Width 128 -Height 128 -Seed 1 -PriorSteps 2
        $r = Invoke-Capture { $e | Export-WuerstchenEmbedding -Path $target }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'OutputWriteFailed' 'WriteError' @($target)
        Assert-NoTemporaryFile $TestDrive
    }

    It 'a .png file name in a missing folder: OutputFolderNotFound naming the folder' {
        $missing = Join-Path $TestDrive 'no-such-folder'
        $file = Join-Path $missing 'x.png'
        $r = Invoke-Capture { New-WuerstchenImage 'missing folder' @Small -OutputPath $file }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'OutputFolderNotFound' 'ObjectNotFound' @($missing, $file)
        Test-Path $missing | Should -BeFalse
        Assert-NextCallWorks
    }

    It 'an existing file without -Force: OutputFileExists, the file is kept, nothing else written' {
        $dir = Join-Path $TestDrive 'existing'
        $null = New-Item -ItemType Directory $dir
        $file = Join-Path $dir 'keep.png'
        Set-Content $file 'keep me'
        $r = Invoke-Capture { New-WuerstchenImage 'exists' @Small -OutputPath $file }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'OutputFileExists' 'WriteError' @($file, '-Force')
        Get-Content $file | Should -Be 'keep me'
        @(Get-ChildItem $dir -Force).Name | Should -Be @('keep.png')
        $forced = New-WuerstchenImage 'exists' @Small -OutputPath $file -Force
        (Get-Rgb $forced.FullName).Width | Should -Be 128
        @(Get-ChildItem $dir -Force).Name | Should -Be @('keep.png')
    }

    It 'an existing file that is not a .png as -OutputPath: OutputPathIsFile' {
        $file = Join-Path $TestDrive 'notes.txt'
        Set-Content $file 'notes'
        $r = Invoke-Capture { New-WuerstchenImage 'x' @Small -OutputPath $file }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'OutputPathIsFile' 'InvalidArgument' @($file)
        Get-Content $file | Should -Be 'notes'
    }

    It 'a full disk mid-write (engine AtomicFile, simulated): OutputWriteFailed and no temporary file' {
        # the cmdlets write every file through AtomicFile; a failing stream stands in for ENOSPC
        if (-not ('PesterFullDisk' -as [type])) {
            Add-Type -TypeDefinition @'
public static class PesterFullDisk {
    public static System.Action<System.IO.Stream> FailAfter(int bytes) => s => {
        s.Write(new byte[bytes], 0, bytes);
        throw new System.IO.IOException("No space left on device");
    };
}
'@
        }
        $dir = Join-Path $TestDrive 'full'
        $null = New-Item -ItemType Directory $dir
        $path = Join-Path $dir 'image.png'
        $err = $null
        try { [Wuerstchen.Core.IO.AtomicFile]::Write($path, $false, [PesterFullDisk]::FailAfter(65536)) } catch { $err = $_.Exception.InnerException }
        $err | Should -BeOfType [Wuerstchen.Core.WuerstchenException]
        $err.ErrorId | Should -Be 'OutputWriteFailed'
        $err.Message | Should -BeLike "*$path*No space left on device*"
        $record = [Wuerstchen.PowerShell.WuerstchenCmdlet]::ToErrorRecord($err)
        $record.CategoryInfo.Category | Should -Be 'WriteError'
        Assert-NothingWritten $dir
        Assert-NextCallWorks
    }
}

Describe 'Ctrl+C in the middle of each stage' {
    BeforeAll {
        # warm the cache with this process's options, so a stopped run's sessions are the ones reused after it
        $null = New-WuerstchenImage 'warm' @Small -OutputPath (Join-Path $TestDrive 'warm')

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

    It 'stops the <Stage> stage: no .png, no .tmp, state Stopped, and the cache still works' -ForEach @(
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
            # nothing written, not even later: the engine is done when Stop returns
            Assert-NothingWritten $dir
            Start-Sleep -Milliseconds 500
            [Wuerstchen.Core.RunStatistics]::Count | Should -Be $s.RunsAtStop
            Assert-NothingWritten $dir
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
            @(Get-ChildItem $dir -Force).Name | Should -Be @('after-the-stop-1-0.png')
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
