# Reliability matrix, input: invalid arguments, prompts and CSV rows.
# What every case asserts, and the shared helpers: Reliability.Common.ps1.

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'Reliability.Common.ps1')
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
        @{ Case = 'a null prompt'; Prompt = $null; Id = 'EmptyPrompt'; Names = @("'Prompt'", 'null') }
        @{ Case = 'a null among the prompts'; Prompt = @('a cat', $null); Id = 'EmptyPrompt'; Names = @("'Prompt'", 'null') }
    ) {
        $dir = Join-Path $TestDrive ('null-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        $r = Invoke-Capture { New-WuerstchenImage -Prompt $Prompt @Small -OutputPath $dir }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] $Id 'InvalidArgument' $Names
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
        @{ Column = 'Seed'; Value = 'abc'; Id = 'InvalidWholeNumber'; Names = @("'Seed'", "'abc'") }
        @{ Column = 'Width'; Value = 'wide'; Id = 'InvalidWholeNumber'; Names = @("'Width'", "'wide'") }
        @{ Column = 'PriorSteps'; Value = '3x'; Id = 'InvalidWholeNumber'; Names = @("'PriorSteps'", "'3x'") }
        @{ Column = 'PriorGuidanceScale'; Value = 'high'; Id = 'InvalidNumber'; Names = @("'PriorGuidanceScale'", "'high'") }
        @{ Column = 'Seed'; Value = '99999999999999999999'; Id = 'ValueOutOfRange'; Names = @("'Seed'", "'99999999999999999999'") }
        @{ Column = 'PriorTimesteps'; Value = '1, x, 0'; Id = 'InvalidNumber'; Names = @("'PriorTimesteps'", "'x'") }
    ) {
        $row = [ordered]@{ Prompt = 'typo row'; Seed = '21'; Width = '128'; Height = '128'; PriorSteps = '2'; DecoderSteps = '2'; PriorGuidanceScale = '' }
        if ($Column -eq 'PriorTimesteps') { $row.Remove('PriorSteps') }
        $row[$Column] = $Value
        $rows = @([pscustomobject] $row, [pscustomobject]@{ Prompt = 'good row'; Seed = '22'; Width = '128'; Height = '128'; PriorSteps = '2'; DecoderSteps = '2' })
        $dir = Join-Path $TestDrive ('typo-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        $r = Invoke-Capture { $rows | New-WuerstchenImage -OutputPath $dir }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] $Id 'InvalidArgument' $Names
        @($r.Output).Count | Should -Be 1
        $r.Output[0].Prompt | Should -Be 'good row'
        @(Get-ChildItem $dir -Force).Name | Should -Be @('good-row-22-0.png')
    }
}
