# The PowerShell experience (issue "interactive use, CSV prompt lists and CI scripts"): each test is one numbered
# point and failed on the code before its fix. Points 2 and 9 are in Gate.Tests.ps1.

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Small = @{ Width = 128; Height = 128; Seed = 1; PriorSteps = 2; DecoderSteps = 2 }
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

Describe 'The empty prompt (point 7)' {
    It 'is accepted at the command line; an empty CSV cell is skipped with a warning' {
        $dir = Join-Path $TestDrive 'empty'
        $f = New-WuerstchenImage '' @Small -OutputPath $dir
        @($f).Count | Should -Be 1
        $f.Prompt | Should -Be ''
        (Get-Rgb $f.FullName).Width | Should -Be 128
        $csv = Join-Path $TestDrive 'empty.csv'
        Set-Content $csv "Prompt,Seed`n,1"
        # from the pipeline an empty cell is a blank row, not a request for an unconditional image: skipped, with a warning
        $g = Invoke-Capture { Import-Csv $csv | New-WuerstchenImage -Width 128 -Height 128 -PriorSteps 2 -DecoderSteps 2 -OutputPath (Join-Path $TestDrive 'empty-csv') }
        $g.Output | Should -BeNullOrEmpty
        $g.Warnings | Should -Match 'record 1.*empty'
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
        $r.Errors[0].TargetObject.Prompt | Should -Be 'the bad one' # the row, so it can be fixed or re-run
    }
}

Describe 'Truncated images (issue point 3)' {
    # tests/Pester/data/noise.*: 128x128 random pixels (made with PIL), so half of the file is half of the picture data
    It 'a <_> cut in half is InvalidImageFile, the whole file works' -ForEach @('jpg', 'webp', 'gif', 'png') {
        $whole = Join-Path $PSScriptRoot "data/noise.$_"
        $bytes = [IO.File]::ReadAllBytes($whole)
        $cut = Join-Path $TestDrive "cut.$_"
        [IO.File]::WriteAllBytes($cut, $bytes[0..([int]($bytes.Length / 2))])
        [Wuerstchen.Core.IO.ImageLoader]::Identify($whole).Item1 | Should -Be 128
        $err = $null
        Get-WuerstchenEmbedding -ImagePath $cut -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'InvalidImageFile*'
        "$($err[0].CategoryInfo.Category)" | Should -Be 'InvalidData'
        $err[0].Exception.Message | Should -BeLike "*$cut*"
    }
}
