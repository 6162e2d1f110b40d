# img2img (-InitImage, -Strength) through the cmdlets on the v2 stand-ins (which have an EfficientNet encoder): the ways
# in (command line, CSV columns, an image's own metadata) and the errors. The arithmetic (strength 0 and 1 exactly, the
# noised start against float64) is tests/Wuerstchen.Core.Tests/InitImageTests.cs; docs/img2img.md defines it.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Work = Join-Path $TestDrive 'img2img'
    New-Item -ItemType Directory $Work | Out-Null
    # a picture to start from: a small render of the stand-ins themselves
    $script:Photo = (New-WuerstchenImage 'a harbour at dawn' -Seed 1 -Width 256 -Height 256 -PriorSteps 2 -DecoderSteps 2 -OutputPath (Join-Path $Work 'photo.png')).FullName
    $script:Small = @{ Prompt = 'a harbour at night'; Seed = 9; Width = 256; Height = 256; PriorSteps = 4; DecoderSteps = 2 }
}

Describe 'New-WuerstchenImage -InitImage' {
    It 'records the init image''s name, SHA-256 and strength, and Get-WuerstchenImageInfo | New-WuerstchenImage remakes the image' {
        $file = New-WuerstchenImage @Small -InitImage $Photo -Strength 0.5 -OutputPath (Join-Path $Work 'a.png')
        $file.LiteralInitImage | Should -Be 'photo.png'
        $file.InitImageSha256 | Should -Be (Get-FileHash $Photo -Algorithm SHA256).Hash.ToLowerInvariant()
        $file.Strength | Should -Be 0.5
        Push-Location $Work
        try { $again = Get-WuerstchenImageInfo -LiteralPath $file.FullName | New-WuerstchenImage -OutputPath (Join-Path $Work 'b.png') }
        finally { Pop-Location }
        $again.Strength | Should -Be 0.5
        (Compare-Bytes (Get-Rgb $again.FullName).Bytes (Get-Rgb $file.FullName).Bytes).Max | Should -Be 0
    }

    It 'the strength changes the picture, and strength 1 is the text-to-image picture' {
        $t2i = New-WuerstchenImage @Small -OutputPath (Join-Path $Work 't2i.png')
        $one = New-WuerstchenImage @Small -InitImage $Photo -Strength 1 -OutputPath (Join-Path $Work 's1.png')
        $half = New-WuerstchenImage @Small -InitImage $Photo -Strength 0.5 -OutputPath (Join-Path $Work 's05.png')
        (Compare-Bytes (Get-Rgb $one.FullName).Bytes (Get-Rgb $t2i.FullName).Bytes).Max | Should -Be 0
        (Compare-Bytes (Get-Rgb $half.FullName).Bytes (Get-Rgb $t2i.FullName).Bytes).Max | Should -BeGreaterThan 10
    }

    It 'InitImage and Strength columns of a CSV bind row by row' {
        $csv = Join-Path $TestDrive 'rows.csv'
        "Prompt,Seed,Width,Height,PriorSteps,DecoderSteps,InitImage,Strength`n""a harbour at night"",9,256,256,4,2,""$Photo"",0.5`n""a harbour at night"",9,256,256,4,2,,"| Set-Content $csv
        $rows = @(Import-Csv $csv | New-WuerstchenImage -OutputPath (Join-Path $Work 'csv'))
        $rows.Count | Should -Be 2
        $rows[0].Strength | Should -Be 0.5
        $rows[1].LiteralInitImage | Should -BeNullOrEmpty
        $cmd = New-WuerstchenImage @Small -InitImage $Photo -Strength 0.5 -OutputPath (Join-Path $Work 'cmd.png')
        (Compare-Bytes (Get-Rgb $rows[0].FullName).Bytes (Get-Rgb $cmd.FullName).Bytes).Max | Should -Be 0
    }

    It '-SkipExisting remakes the image when the init image''s content changed under the same name' {
        $copy = Join-Path $Work 'changing.png'
        Copy-Item $Photo $copy
        $out = Join-Path $Work 'skip.png'
        $null = New-WuerstchenImage @Small -InitImage $copy -Strength 0.5 -OutputPath $out
        (New-WuerstchenImage @Small -InitImage $copy -Strength 0.5 -OutputPath $out -SkipExisting).Skipped | Should -BeTrue
        Copy-Item (Join-Path $Work 't2i.png') $copy -Force
        $r = Invoke-Capture { New-WuerstchenImage @Small -InitImage $copy -Strength 0.5 -OutputPath $out -SkipExisting }
        @($r.Output | Where-Object Skipped).Count | Should -Be 0
    }
}

Describe 'New-WuerstchenImage -InitImage: remakes and records (outside-trial findings)' {
    It 'a remake refuses an init image whose content changed under the same name (ImageInputChanged), and names the digests' {
        $dir = (New-Item -ItemType Directory (Join-Path $TestDrive 'changed')).FullName
        Copy-Item $Photo (Join-Path $dir 'in.png')
        $file = New-WuerstchenImage @Small -LiteralInitImage (Join-Path $dir 'in.png') -Strength 0.5 -OutputPath (Join-Path $dir 'a.png')
        $null = New-WuerstchenImage 'another picture' -Seed 4 -Width 256 -Height 256 -PriorSteps 2 -DecoderSteps 2 -OutputPath (Join-Path $dir 'in.png') -Force
        Push-Location $dir
        try { $r = Invoke-Capture { Get-WuerstchenImageInfo -LiteralPath $file.FullName | New-WuerstchenImage -OutputPath (Join-Path $dir 'b.png') } }
        finally { Pop-Location }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'ImageInputChanged,*'
        "$($r.Errors[0])" | Should -BeLike "*$($file.InitImageSha256)*"
        Test-Path (Join-Path $dir 'b.png') | Should -BeFalse
    }

    It 'a remake takes recorded names literally: wildcard characters and brackets in a file name' {
        $dir = (New-Item -ItemType Directory (Join-Path $TestDrive 'literal')).FullName
        Copy-Item -LiteralPath $Photo -Destination (Join-Path $dir '[1] st*r.png')
        Copy-Item $Photo (Join-Path $dir 'other.png')
        $file = New-WuerstchenImage @Small -LiteralInitImage (Join-Path $dir '[1] st*r.png') -Strength 0.5 -OutputPath (Join-Path $dir 'a.png')
        Push-Location $dir
        try { $again = Get-WuerstchenImageInfo -LiteralPath $file.FullName | New-WuerstchenImage -OutputPath (Join-Path $dir 'b.png') }
        finally { Pop-Location }
        $again.LiteralInitImage | Should -Be '[1] st*r.png'
        (Compare-Bytes (Get-Rgb $again.FullName).Bytes (Get-Rgb $file.FullName).Bytes).Max | Should -Be 0
    }

    It 'a [single] Strength of 0.7 runs 7 of 10 steps, as the decimal 0.7 does' {
        $row = [pscustomobject]@{ Prompt = 'p'; InitImage = $Photo; Strength = [single] 0.7 }
        $r = Invoke-Capture { $row | New-WuerstchenImage -Seed 1 -Width 256 -Height 256 -PriorSteps 10 -DecoderSteps 2 -OutputPath (Join-Path $TestDrive 'single') }
        $r.Errors | Should -BeNullOrEmpty
        $r.Output[0].Strength | Should -Be 0.7
        $cmd = New-WuerstchenImage 'p' -InitImage $Photo -Strength 0.7 -Seed 1 -Width 256 -Height 256 -PriorSteps 10 -DecoderSteps 2 -OutputPath (Join-Path $TestDrive 'double')
        (Compare-Bytes (Get-Rgb $r.Output[0].FullName).Bytes (Get-Rgb $cmd.FullName).Bytes).Max | Should -Be 0
    }

    It 'a run-wide -Strength over a CSV whose rows do not all have an init image: those rows are made from text, with one warning' {
        $rows = @([pscustomobject]@{ Prompt = 'a'; InitImage = $Photo }, [pscustomobject]@{ Prompt = 'b'; InitImage = '' }, [pscustomobject]@{ Prompt = 'c' })
        $r = Invoke-Capture { $rows | New-WuerstchenImage -Strength 0.6 -Seed 3 -Width 256 -Height 256 -PriorSteps 2 -DecoderSteps 2 -OutputPath (Join-Path $TestDrive 'mixed') }
        $r.Errors | Should -BeNullOrEmpty
        $r.Output.Count | Should -Be 3
        $r.Output[0].Strength | Should -Be 0.6
        $r.Output[1].Strength | Should -BeNullOrEmpty
        @($r.Warnings | Where-Object { $_ -like '*-Strength 0.6 applies to records with an init image only*' }).Count | Should -Be 1
    }

    It 'an embedding that went through Export-Clixml keeps its init image in the decoded file' {
        $xml = Join-Path $TestDrive 'e.xml'
        Get-WuerstchenEmbedding 'p' -InitImage $Photo -Strength 0.5 -Seed 1 -Width 256 -Height 256 -PriorSteps 2 | Export-Clixml $xml
        $file = Import-Clixml $xml | ConvertFrom-WuerstchenEmbedding -DecoderSteps 2 -OutputPath (Join-Path $TestDrive 'clixml')
        $file.LiteralInitImage | Should -Be 'photo.png'
        $file.Strength | Should -Be 0.5
    }

    It '-WhatIf says NetworkNotInFamily for an init image with Stable Cascade, as the run would' {
        $r = Invoke-Capture { New-WuerstchenImage @Small -InitImage $Photo -ModelPath (Join-Path $RepoRoot 'tests/data/cascade/models') -OutputPath (Join-Path $TestDrive 'x') -WhatIf }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'NetworkNotInFamily,*'
    }
}

Describe 'New-WuerstchenImage -InitImage: errors' {
    It '-Strength without -InitImage on the command line is StrengthWithoutInitImage' {
        $r = Invoke-Capture { New-WuerstchenImage @Small -Strength 0.5 -OutputPath (Join-Path $TestDrive 'x') }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'StrengthWithoutInitImage,*'
    }

    It 'a strength outside 0 to 1 is InvalidStrength, and "0,5" is InvalidNumber' {
        (Invoke-Capture { New-WuerstchenImage @Small -InitImage $Photo -Strength 1.5 -OutputPath (Join-Path $TestDrive 'x') }).Errors[0].FullyQualifiedErrorId |
            Should -BeLike 'InvalidStrength,*'
        (Invoke-Capture { New-WuerstchenImage @Small -InitImage $Photo -Strength '0,5' -OutputPath (Join-Path $TestDrive 'x') }).Errors[0].FullyQualifiedErrorId |
            Should -BeLike 'InvalidNumber,*'
    }

    It 'a pattern matching several files, or none, is ImageFileNotFound' {
        Copy-Item $Photo (Join-Path $Work 'photo2.png')
        $r = Invoke-Capture { New-WuerstchenImage @Small -InitImage (Join-Path $Work 'photo*.png') -OutputPath (Join-Path $TestDrive 'x') }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'ImageFileNotFound,*'
        "$($r.Errors[0])" | Should -BeLike '*several files*'
        $r = Invoke-Capture { New-WuerstchenImage @Small -InitImage (Join-Path $Work 'nothing*.png') -OutputPath (Join-Path $TestDrive 'x') }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'ImageFileNotFound,*'
    }

    It 'Stable Cascade has no Stage C encoder: NetworkNotInFamily, naming -InitImage and -ImagePrompt' {
        $r = Invoke-Capture { New-WuerstchenImage @Small -InitImage $Photo -ModelPath (Join-Path $RepoRoot 'tests/data/cascade/models') -OutputPath (Join-Path $TestDrive 'x') }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'NetworkNotInFamily,*'
        "$($r.Errors[0])" | Should -BeLike '*-InitImage*-ImagePrompt*'
        Test-Path (Join-Path $TestDrive 'x') | Should -BeFalse
    }

    It 'a file that is not an image is InvalidImageFile, also at strength 1' {
        $bad = Join-Path $TestDrive 'bad.png'
        'not a picture' | Set-Content $bad
        (Invoke-Capture { New-WuerstchenImage @Small -InitImage $bad -Strength 1 -OutputPath (Join-Path $TestDrive 'x') }).Errors[0].FullyQualifiedErrorId |
            Should -BeLike 'InvalidImageFile,*'
    }
}
