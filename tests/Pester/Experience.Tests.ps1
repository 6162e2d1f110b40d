# The PowerShell experience (issue "interactive use, CSV prompt lists and CI scripts"): each test is one numbered
# point and failed on the code before its fix.

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Small = @{ Width = 128; Height = 128; Seed = 1; PriorSteps = 2; DecoderSteps = 2 }

    function Invoke-Capture([scriptblock] $Script) {
        $ErrorActionPreference = 'Continue'
        $all = try { & $Script 2>&1 3>&1 } catch { $_ }
        [pscustomobject]@{
            Output = @($all | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] -and $_ -isnot [System.Management.Automation.WarningRecord] })
            Errors = @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
        }
    }
}

Describe 'CSV rows without a Prompt column (point 1)' {
    It 'is an error for that row naming its properties, and nothing is rendered' {
        $dir = Join-Path $TestDrive 'typo'
        $csv = Join-Path $TestDrive 'typo.csv'
        Set-Content $csv "prompt_text,Seed`nA red fox,7"
        $r = Invoke-Capture { Import-Csv $csv | New-WuerstchenImage -Width 128 -Height 128 -PriorSteps 2 -DecoderSteps 2 -OutputPath $dir }
        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'PromptPropertyMissing,*'
        $r.Errors[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        "$($r.Errors[0])" | Should -Match 'prompt_text'
        "$($r.Errors[0])" | Should -Match "named 'Prompt'"
        @(Get-ChildItem $dir -ErrorAction Ignore).Count | Should -Be 0
    }

    It 'still binds plain strings by value and rows with a Prompt column by name' {
        $dir = Join-Path $TestDrive 'ok'
        $a = 'a plain string' | New-WuerstchenImage @Small -OutputPath $dir
        $a.Prompt | Should -Be 'a plain string'
        $b = [pscustomobject]@{ Prompt = 'from a row'; Seed = 9 } | New-WuerstchenImage -Width 128 -Height 128 -PriorSteps 2 -DecoderSteps 2 -OutputPath $dir
        $b.Prompt | Should -Be 'from a row'
        $b.Seed | Should -Be 9
    }
}

Describe 'Test-WuerstchenModel -Quiet as a gate (point 2)' {
    It 'returns exactly one $false and writes no error for a <Case>' -ForEach @(
        @{ Case = 'missing folder'; Make = { param($d) } }
        @{ Case = 'malformed model_index.json'; Make = { param($d) Copy-Item $Models $d -Recurse; Set-Content (Join-Path $d 'model_index.json') '{ not json' } }
    ) {
        $d = Join-Path $TestDrive ('gate-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
        & $Make $d
        $ErrorActionPreference = 'Stop'
        $all = @(Test-WuerstchenModel -ModelPath $d -Quiet 2>&1)
        $all.Count | Should -Be 1
        $all[0] | Should -BeOfType [bool]
        $all[0] | Should -BeFalse
    }

    It 'returns exactly one $true for the stand-in models' {
        $all = @(Test-WuerstchenModel -Quiet 2>&1)
        $all.Count | Should -Be 1
        $all[0] | Should -BeTrue
    }
}

Describe 'The empty prompt (point 7)' {
    It 'is accepted at the command line and from CSV' {
        $dir = Join-Path $TestDrive 'empty'
        $f = New-WuerstchenImage '' @Small -OutputPath $dir
        @($f).Count | Should -Be 1
        $f.Prompt | Should -Be ''
        (Get-Rgb $f.FullName).Width | Should -Be 128
        $csv = Join-Path $TestDrive 'empty.csv'
        Set-Content $csv "Prompt,Seed`n,1"
        $g = Import-Csv $csv | New-WuerstchenImage -Width 128 -Height 128 -PriorSteps 2 -DecoderSteps 2 -OutputPath (Join-Path $TestDrive 'empty-csv')
        @($g).Count | Should -Be 1
        # the same prompt and seed give the same picture, whichever way the empty prompt came
        (Compare-Bytes (Get-Rgb $g.FullName).Bytes (Get-Rgb $f.FullName).Bytes).Max | Should -Be 0
    }
}

Describe 'An error from a CSV row says which row (point 8)' {
    It 'names the record number and the prompt' {
        $csv = Join-Path $TestDrive 'rows.csv'
        Set-Content $csv "Prompt,Seed,Width`ngood one,1,128`nthe bad one,2,100"
        $r = Invoke-Capture { Import-Csv $csv | New-WuerstchenImage -Height 128 -PriorSteps 2 -DecoderSteps 2 -OutputPath (Join-Path $TestDrive 'rows') }
        $r.Output.Count | Should -Be 1
        $r.Errors.Count | Should -Be 1
        "$($r.Errors[0])" | Should -Match 'record 2'
        "$($r.Errors[0])" | Should -Match "the bad one"
        $r.Errors[0].TargetObject | Should -Be 100
    }
}

Describe 'WUERSTCHEN_MODEL_PATH (point 9)' {
    BeforeEach { $script:saved = $env:WUERSTCHEN_MODEL_PATH; $PSDefaultParameterValues.Remove('*-Wuerstchen*:ModelPath') }
    AfterEach { $env:WUERSTCHEN_MODEL_PATH = $saved; $PSDefaultParameterValues['*-Wuerstchen*:ModelPath'] = $Models }

    It 'names the variable when the folder it points to does not exist' {
        $env:WUERSTCHEN_MODEL_PATH = Join-Path $TestDrive 'nowhere'
        $r = Invoke-Capture { Test-WuerstchenModel }
        $r.Errors.Count | Should -BeGreaterThan 0
        "$($r.Errors[0])" | Should -Match 'came from \$env:WUERSTCHEN_MODEL_PATH'
    }

    It 'treats a whitespace-only value as unset' {
        $env:WUERSTCHEN_MODEL_PATH = '   '
        $r = Invoke-Capture { Test-WuerstchenModel }
        "$($r.Errors[0])" | Should -Match ([regex]::Escape([Wuerstchen.PowerShell.WuerstchenCmdlet]::DefaultModelPath))
    }
}
