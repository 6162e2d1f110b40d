# Issue 9 points 2 and 9: Test-WuerstchenModel -Quiet as a script gate, and where a missing model folder's path came from.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

Describe 'Test-WuerstchenModel -Quiet as a gate' {
    It 'returns exactly one $false and writes no error for a <Case>, also under $ErrorActionPreference = Stop' -ForEach @(
        @{ Case = 'missing folder'; Make = { param($d) } }
        @{ Case = 'malformed model_index.json'; Make = { param($d) Copy-Item $Models $d -Recurse; Set-Content -LiteralPath (Join-Path $d 'model_index.json') '{ not json' } }
        @{ Case = 'folder with no networks'; Make = { param($d) $null = New-Item -ItemType Directory $d } }
        @{ Case = 'broken network file'; Make = { param($d) Copy-Item $Models $d -Recurse; Set-Content -LiteralPath (Join-Path $d 'prior/model.onnx') 'not onnx' } }
    ) {
        $d = Join-Path $TestDrive ('gate-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
        & $Make $d
        $ErrorActionPreference = 'Stop'
        $all = @(Test-WuerstchenModel -ModelPath $d -Quiet 2>&1)
        $all.Count | Should -Be 1
        $all[0] | Should -BeOfType [bool]
        $all[0] | Should -BeFalse
        # usable as the issue's gate: the if statement runs, the script goes on
        $gate = if (-not (Test-WuerstchenModel -ModelPath $d -Quiet)) { 'closed' } else { 'open' }
        $gate | Should -Be 'closed'
    }

    It 'returns exactly one $true for the stand-in models' {
        $all = @(Test-WuerstchenModel -Quiet 2>&1)
        $all.Count | Should -Be 1
        $all[0] | Should -BeTrue
    }

    It 'tells the reason with -Verbose' {
        $v = Test-WuerstchenModel -ModelPath (Join-Path $TestDrive 'absent') -Quiet -Verbose 4>&1
        ($v | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message -join "`n" | Should -Match 'ModelNotFound'
    }
}

Describe 'Where the model folder came from' {
    BeforeEach {
        $script:saved = $env:WUERSTCHEN_MODEL_PATH
        $PSDefaultParameterValues.Remove('*-Wuerstchen*:ModelPath')
    }
    AfterEach {
        $env:WUERSTCHEN_MODEL_PATH = $saved
        $PSDefaultParameterValues['*-Wuerstchen*:ModelPath'] = $Models
    }

    It 'ModelNotFound names $env:WUERSTCHEN_MODEL_PATH when the folder it points to does not exist' {
        $env:WUERSTCHEN_MODEL_PATH = Join-Path $TestDrive 'nowhere'
        $err = $null
        try { New-WuerstchenImage 'a fox' -Width 128 -Height 128 -PriorSteps 1 -DecoderSteps 1 -OutputPath (Join-Path $TestDrive 'o1') -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'ModelNotFound*'
        "$err" | Should -Match 'came from \$env:WUERSTCHEN_MODEL_PATH'
        "$err" | Should -Match ([regex]::Escape((Join-Path $TestDrive 'nowhere')))
    }

    It 'treats a whitespace-only value as unset: the default folder is used and named as the default' {
        $env:WUERSTCHEN_MODEL_PATH = '   '
        $err = $null
        try { Test-WuerstchenModel -ErrorAction Stop } catch { $err = $_ }
        $default = [Wuerstchen.PowerShell.ModelCmdlet]::DefaultModelPath
        if (Test-Path -LiteralPath $default) { Set-ItResult -Inconclusive -Because "a real model folder exists at $default" }
        "$err" | Should -Match ([regex]::Escape($default))
        "$err" | Should -Match 'default folder'
    }

    It 'says -ModelPath when that is where the path came from' {
        $err = $null
        try { Test-WuerstchenModel -ModelPath (Join-Path $TestDrive 'typo') -ErrorAction Stop } catch { $err = $_ }
        "$err" | Should -Match 'given with -ModelPath'
    }
}
