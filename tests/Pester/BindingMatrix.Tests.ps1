# The binding matrix, generated from the one declaration of the request parameters
# ([Wuerstchen.PowerShell.RequestParameters]::All): every parameter × {command line, CSV cell, pipeline object property,
# $PSDefaultParameterValues} × {valid, empty, whitespace, $null, decimal comma, fraction, out of range, array} gives the
# outcome docs/parameters.md states. Each case runs New-WuerstchenImage -WhatIf (the checks without generating) in a
# runspace of its own, so the 600-odd "What if" lines stay out of the test log. The file metadata round trip is
# Request.Tests.ps1's Get-WuerstchenImageInfo | New-WuerstchenImage.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Declared = @([Wuerstchen.PowerShell.RequestParameters]::All.Values | Sort-Object Name | ForEach-Object { @{ Name = $_.Name; Kind = "$($_.Kind)" } })
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    # per parameter: a valid value, an out-of-range value and its error id (absent: no range), and cases whose
    # outcome differs from the kind's rule (docs/parameters.md, "Exceptions")
    $script:Png = Join-Path $RepoRoot 'tests/data/cascade-image/images/gradient-300x200.png'
    $script:PngSha256 = (Get-FileHash $Png -Algorithm SHA256).Hash.ToLowerInvariant()
    # image prompts need a Stable Cascade folder with an image encoder (tests/data/cascade-image over tests/data/cascade)
    $script:ScModels = Join-Path $TestDrive 'sc-models'
    Copy-Item (Join-Path $RepoRoot 'tests/data/cascade/models') $ScModels -Recurse
    Copy-Item (Join-Path $RepoRoot 'tests/data/cascade-image/models/*') $ScModels -Recurse -Force
    $script:Values = @{
        NegativePrompt       = @{ Valid = 'blurry' }
        Width                = @{ Valid = '256'; Out = '100'; OutId = 'InvalidImageSize' }
        Height               = @{ Valid = '256'; Out = '100'; OutId = 'InvalidImageSize' }
        ImagesPerPrompt      = @{ Valid = '2'; Out = '0'; OutId = 'InvalidImagesPerPrompt' }
        Seed                 = @{ Valid = '7'; Out = '99999999999999999999'; OutId = 'ValueOutOfRange' }
        PriorSteps           = @{ Valid = '2'; Out = '0'; OutId = 'InvalidStepCount' }
        PriorTimesteps       = @{ Valid = '1, 0.5, 0'; Out = '0.5, 1'; OutId = 'InvalidTimesteps' }
        PriorGuidanceScale   = @{ Valid = '2.5'; Out = '-1'; OutId = 'InvalidGuidanceScale' }
        DecoderSteps         = @{ Valid = '2'; Out = '0'; OutId = 'InvalidStepCount' }
        DecoderTimesteps     = @{ Valid = '1, 0'; Out = '0.5, 1'; OutId = 'InvalidTimesteps' }
        DecoderGuidanceScale = @{ Valid = '1.5'; Out = '-1'; OutId = 'InvalidGuidanceScale' }
        BatchPrompts         = @{ Valid = '["a", "b"]'; Comma = 'BatchMismatch'; Fraction = 'BatchMismatch' }
        PromptIndex          = @{ Valid = '0'; Out = '999'; OutId = 'ValueOutOfRange' }
        ImageIndex           = @{ Valid = '0'; Out = '999'; OutId = 'ValueOutOfRange' }
        Quality              = @{ Valid = '50'; Out = '0'; OutId = 'ValueOutOfRange' }
        OutputPath           = @{ Valid = 'VALID-FOLDER'; Fraction = 'UnsupportedImageFormat' }
        ModelPath            = @{ Valid = $Models }
        ExecutionProvider    = @{ Valid = 'Cpu'; Out = 'Gpu'; OutId = 'InvalidChoice' }
        DeviceId             = @{ Valid = '0'; Out = '65'; OutId = 'ValueOutOfRange' }
        GpuMemoryLimitMB     = @{ Valid = '0'; Out = '-1'; OutId = 'ValueOutOfRange' }
        # images in: a value that names no file is ImageFileNotFound (checked before anything runs, also under -WhatIf)
        ImagePrompt          = @{ Valid = $Png; Comma = 'ImageFileNotFound'; Fraction = 'ImageFileNotFound'; Array = 'ImageFileNotFound'; With = @{ ModelPath = $ScModels } }
        LiteralImagePrompt   = @{ Valid = $Png; Comma = 'ImageFileNotFound'; Fraction = 'ImageFileNotFound'; Array = 'ImageFileNotFound'; With = @{ ModelPath = $ScModels } }
        InitImage            = @{ Valid = $Png; Comma = 'ImageFileNotFound'; Fraction = 'ImageFileNotFound' }
        LiteralInitImage     = @{ Valid = $Png; Comma = 'ImageFileNotFound'; Fraction = 'ImageFileNotFound' }
        # a recorded digest is checked against the file it goes with: any other value is ImageInputChanged
        ImagePromptSha256    = @{ Valid = $PngSha256; Comma = 'ImageInputChanged'; Fraction = 'ImageInputChanged'; Array = 'ImageInputChanged'; With = @{ LiteralImagePrompt = $Png; ModelPath = $ScModels } }
        InitImageSha256      = @{ Valid = $PngSha256; Comma = 'ImageInputChanged'; Fraction = 'ImageInputChanged'; With = @{ LiteralInitImage = $Png } }
        # -Strength needs an init image: every case runs with one
        Strength             = @{ Valid = '0.5'; Out = '2'; OutId = 'InvalidStrength'; Fraction = 'InvalidStrength'; With = @{ InitImage = $Png } }
    }

    # the outcome by kind (docs/parameters.md): 'ok' or the error id
    function Get-Expected([string] $Name, [string] $Kind, [string] $Case) {
        $v = $Values[$Name]
        switch ($Case) {
            'Valid' { return 'ok' }
            { $_ -in 'Empty', 'Whitespace', 'Null' } { return 'ok' }
            'Comma' {
                if ($v.Comma) { return $v.Comma }
                return @{ Text = 'ok'; Whole = 'InvalidWholeNumber'; LongWhole = 'InvalidWholeNumber'; Number = 'InvalidNumber'; Real = 'InvalidNumber'; NumberList = 'ok'; Choice = 'InvalidChoice'; TextList = 'ok'; PathList = 'ok' }[$Kind]
            }
            'Fraction' {
                if ($v.Fraction) { return $v.Fraction }
                return @{ Text = 'ok'; Whole = 'InvalidWholeNumber'; LongWhole = 'InvalidWholeNumber'; Number = 'ok'; Real = 'ok'; NumberList = 'InvalidTimesteps'; Choice = 'InvalidChoice'; TextList = 'ok'; PathList = 'ok' }[$Kind]
            }
            'Out' { return $v.OutId }
            'Array' { if ($v.Array) { return $v.Array }; return @{ NumberList = 'ok'; TextList = 'ok'; PathList = 'ok' }[$Kind] ?? 'NotOneValue' }
        }
    }

    function Get-CaseValue([string] $Name, [string] $Kind, [string] $Case) {
        switch ($Case) {
            'Valid' { $Values[$Name].Valid }
            'Empty' { '' }
            'Whitespace' { '   ' }
            'Null' { $null }
            'Comma' { if ($Kind -eq 'NumberList') { '1,0' } else { '4,5' } }
            'Fraction' { '1.5' }
            'Out' { $Values[$Name].Out }
            'Array' { if ($Kind -eq 'NumberList') { , @(1, 0) } elseif ($Kind -in 'TextList', 'PathList') { , @('a', 'b') } else { , @('1', '2') } }
        }
    }

    $script:Runspace = [runspacefactory]::CreateRunspace()
    $Runspace.Open()
    $script:Shell = [powershell]::Create()
    $Shell.Runspace = $Runspace
    $null = $Shell.AddScript("Import-Module '$(Join-Path $ModulePath 'Wuerstchen.psd1')'; `$PSDefaultParameterValues['*-Wuerstchen*:ModelPath'] = '$Models'; `$PSDefaultParameterValues['*-Wuerstchen*:ExecutionProvider'] = 'Cpu'").Invoke()

    # each way in as a script taking (value, parameter name, output folder); returns the error ids, or 'ok'
    $script:Ways = @{
        CommandLine = 'param($v, $n, $o, $w) $p = @{ OutputPath = $o } + $w; $p[$n] = $v; try { New-WuerstchenImage "a" @p -WhatIf } catch { $_ }'
        # a parameter bound by $PSDefaultParameterValues is not bound again from the pipeline (PowerShell's rule):
        # this runspace's ModelPath and ExecutionProvider defaults are taken away while their column is tried
        Property    = 'param($v, $n, $o, $w) $saved = $PSDefaultParameterValues.Clone(); foreach ($x in @($n) + @($w.Keys)) { $PSDefaultParameterValues.Remove("*-Wuerstchen*:$x") }; $r = [ordered]@{ Prompt = "a"; OutputPath = $o }; foreach ($x in $w.Keys) { $r[$x] = $w[$x] }; $r[$n] = $v; try { [pscustomobject]$r | New-WuerstchenImage -WhatIf -AllowRecordOutputPath } catch { $_ } finally { $PSDefaultParameterValues.Clear(); foreach ($e in $saved.GetEnumerator()) { $PSDefaultParameterValues[$e.Key] = $e.Value } }'
        CsvCell     = 'param($v, $n, $o, $w) $saved = $PSDefaultParameterValues.Clone(); foreach ($x in @($n) + @($w.Keys)) { $PSDefaultParameterValues.Remove("*-Wuerstchen*:$x") }; $r = [ordered]@{ Prompt = "a"; OutputPath = $o }; foreach ($x in $w.Keys) { $r[$x] = $w[$x] }; $r[$n] = $v; try { [pscustomobject]$r | ConvertTo-Csv | ConvertFrom-Csv | New-WuerstchenImage -WhatIf -AllowRecordOutputPath } catch { $_ } finally { $PSDefaultParameterValues.Clear(); foreach ($e in $saved.GetEnumerator()) { $PSDefaultParameterValues[$e.Key] = $e.Value } }'
        Default     = 'param($v, $n, $o, $w) $k = if ($n -in "ModelPath", "ExecutionProvider") { "*-Wuerstchen*:$n" } else { "New-WuerstchenImage:$n" }; $saved = $PSDefaultParameterValues[$k]; $PSDefaultParameterValues[$k] = $v; try { if ($n -eq "OutputPath") { New-WuerstchenImage "a" @w -WhatIf } else { New-WuerstchenImage "a" -OutputPath $o @w -WhatIf } } catch { $_ } finally { if ($null -eq $saved) { $PSDefaultParameterValues.Remove($k) } else { $PSDefaultParameterValues[$k] = $saved } }'
    }

    function Invoke-Way([string] $Way, $Value, [string] $Name, [string] $Folder) {
        $Shell.Commands.Clear()
        $Shell.Streams.ClearStreams()
        $with = if ($Values[$Name].With) { $Values[$Name].With } else { @{} }
        $null = $Shell.AddScript($Ways[$Way]).AddArgument($Value).AddArgument($Name).AddArgument($Folder).AddArgument($with)
        $out = @($Shell.Invoke())
        $errors = @($out | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }) + @($Shell.Streams.Error)
        if ($errors.Count -eq 0) { return 'ok' }
        ($errors | ForEach-Object { $_.FullyQualifiedErrorId.Split(',')[0] } | Select-Object -Unique) -join ' '
    }
}

AfterAll {
    if ($Shell) { $Shell.Dispose() }
    if ($Runspace) { $Runspace.Dispose() }
}

Describe 'New-WuerstchenImage binding matrix' {
    It 'every declared parameter has its values in this matrix' {
        foreach ($p in [Wuerstchen.PowerShell.RequestParameters]::All.Values) { $Values.ContainsKey($p.Name) | Should -BeTrue -Because "$($p.Name) is declared" }
    }

    It '<Name> (<Kind>): every way in × every kind of value gives the documented outcome' -ForEach $Declared {
        $folder = Join-Path $TestDrive "m-$Name"
        $wrong = foreach ($way in 'CommandLine', 'Property', 'CsvCell', 'Default') {
            foreach ($case in 'Valid', 'Empty', 'Whitespace', 'Null', 'Comma', 'Fraction', 'Out', 'Array') {
                if ($case -eq 'Out' -and -not $Values[$Name].OutId) { continue }
                if ($way -eq 'CsvCell' -and $case -in 'Null', 'Array') { continue } # a CSV cell is never $null or an array
                $value = Get-CaseValue $Name $Kind $case
                if ($value -eq 'VALID-FOLDER') { $value = $folder }
                $expected = Get-Expected $Name $Kind $case
                $actual = Invoke-Way $way $value $Name $folder
                if ($actual -ne $expected) { "$way/$case ('$value'): expected $expected, got $actual" }
            }
        }
        @($wrong) | Should -BeNullOrEmpty
    }
}

Describe 'New-WuerstchenImage file metadata round trip' {
    It 'every declared parameter with a metadata key comes back from the file under its own name' {
        $common = @{ Width = 256; Height = 128; Seed = 7; DecoderGuidanceScale = 1.5; NegativePrompt = 'blurry' }
        $a = New-WuerstchenImage 'a', 'b' @common -ImagesPerPrompt 2 -PriorSteps 2 -PriorGuidanceScale 2.5 -DecoderSteps 2 -InitImage $Png -Strength 0.5 -OutputPath (Join-Path $TestDrive 'meta-a') |
            Where-Object { $_.PromptIndex -eq 1 -and $_.ImageIndex -eq 1 }
        $b = New-WuerstchenImage 'c' @common -PriorTimesteps '1, 0.5, 0' -DecoderTimesteps '1, 0' -OutputPath (Join-Path $TestDrive 'meta-b')
        $c = New-WuerstchenImage 'd' -ModelPath $ScModels -ImagePrompt $Png -Width 256 -Height 256 -Seed 7 -PriorSteps 2 -DecoderSteps 2 -OutputPath (Join-Path $TestDrive 'meta-c')
        $given = @{
            NegativePrompt = 'blurry'; Width = 256; Height = 128; ImagesPerPrompt = 2; Seed = 7; PriorSteps = 2; PriorGuidanceScale = 2.5
            DecoderSteps = 2; DecoderGuidanceScale = 1.5; BatchPrompts = 'a b'; PromptIndex = 1; ImageIndex = 1
            PriorTimesteps = '1 0.5 0'; DecoderTimesteps = '1 0'; LiteralInitImage = 'gradient-300x200.png'; InitImageSha256 = $PngSha256; Strength = 0.5
            LiteralImagePrompt = 'gradient-300x200.png'; ImagePromptSha256 = $PngSha256
        }
        $infoA = Get-WuerstchenImageInfo -LiteralPath $a.FullName
        $infoB = Get-WuerstchenImageInfo -LiteralPath $b.FullName
        $infoC = Get-WuerstchenImageInfo -LiteralPath $c.FullName
        foreach ($p in [Wuerstchen.PowerShell.RequestParameters]::All.Values | Where-Object MetadataKey) {
            $given.ContainsKey($p.Name) | Should -BeTrue -Because "$($p.Name) is recorded ('$($p.MetadataKey)') and needs a value here"
            $info = if ($p.Name -like '*Timesteps') { $infoB } elseif ($p.Name -like '*ImagePrompt*') { $infoC } else { $infoA }
            "$($p.Name)=$($info.($p.Name))" | Should -Be "$($p.Name)=$($given[$p.Name])"
        }
    }
}
