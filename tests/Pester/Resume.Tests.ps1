# Runs that are stopped and run again, and what -Force and -SkipExisting may touch: stable names, skipped images that
# exist with the same parameters (New-WuerstchenImage, ConvertFrom-WuerstchenEmbedding), -Force never replacing
# another image. (Split from Request.Tests.ps1.)
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Fast = @{ Width = 128; Height = 128; PriorSteps = 2; DecoderSteps = 2 }
}

Describe 'New-WuerstchenImage resumes a run' {
    It 'gives the same automatic names on every run and -SkipExisting makes only what is missing' {
        $csv = New-Csv "Prompt,Seed,PriorGuidanceScale`na fox,7,1`na fox,7,2`na cat,8,3"
        $dir = Join-Path $TestDrive 'resume'
        $first = Import-Csv $csv | New-WuerstchenImage @Fast -OutputPath $dir
        $other = Import-Csv $csv | New-WuerstchenImage @Fast -OutputPath (Join-Path $TestDrive 'resume2')
        $other.Name | Should -Be $first.Name
        Remove-Item $first[1].FullName
        $again = Import-Csv $csv | New-WuerstchenImage @Fast -OutputPath $dir -SkipExisting
        @($again).Count | Should -Be 3
        $again.Name | Should -Be $first.Name
        $again.Skipped | Should -Be @($true, $false, $true)
        @(Get-ChildItem $dir).Count | Should -Be 3
    }

    It 'a plain re-run does not duplicate the files' {
        $csv = New-Csv "Prompt,Seed`na fox,9`na cat,10"
        $dir = Join-Path $TestDrive 'rerun'
        $null = Import-Csv $csv | New-WuerstchenImage @Fast -OutputPath $dir
        $r = Invoke-Capture { Import-Csv $csv | New-WuerstchenImage @Fast -OutputPath $dir }
        @(Get-ChildItem $dir).Count | Should -Be 2
        $r.Errors.Count | Should -Be 2
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'OutputFileExists,*'
        $r.Errors[0].Exception.Message | Should -Match 'SkipExisting'
    }
}

Describe 'New-WuerstchenImage -Force and -SkipExisting' {
    It 'ConvertFrom-WuerstchenEmbedding -SkipExisting resumes the decoder stage: the same image is skipped, not copied to -1' {
        $dir = Join-Path $TestDrive 'decode-resume'
        $npy = Join-Path $TestDrive 'resume.npy'
        Get-WuerstchenEmbedding 'a lighthouse', 'a fox' -Seed 7 -Width 128 -Height 128 -PriorSteps 2 | Export-WuerstchenEmbedding -Path $npy
        $first = @(Import-WuerstchenEmbedding -Path $npy | ConvertFrom-WuerstchenEmbedding -Seed 7 -DecoderSteps 2 -OutputPath $dir)
        $removed = (Get-Rgb $first[1].FullName).Bytes
        Remove-Item $first[1].FullName
        $again = @(Import-WuerstchenEmbedding -Path $npy | ConvertFrom-WuerstchenEmbedding -Seed 7 -DecoderSteps 2 -OutputPath $dir -SkipExisting)
        $again.Count | Should -Be 2
        $again[0].Skipped | Should -BeTrue
        $again[0].FullName | Should -Be $first[0].FullName
        $again[1].Skipped | Should -Not -BeTrue
        $again[1].FullName | Should -Be $first[1].FullName
        (Compare-Bytes (Get-Rgb $again[1].FullName).Bytes $removed).Max | Should -Be 0 # decoded without the skipped one: the same pixels
        @(Get-ChildItem $dir).Count | Should -Be 2
    }

    It '-SkipExisting with -Force is ConflictingParameters, before anything is made' {
        $dir = Join-Path $TestDrive 'skip-force'
        $r = Invoke-Capture { New-WuerstchenImage 'a' @Fast -Seed 1 -OutputPath $dir -SkipExisting -Force }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'ConflictingParameters,*'
        Test-Path $dir | Should -BeFalse
    }

    It '-Force into a folder overwrites the same image made again, never another image that has its default name' {
        $dir = Join-Path $TestDrive 'force-folder'
        $a = New-WuerstchenImage 'dog' @Fast -Seed 2 -NegativePrompt 'blurry' -PriorGuidanceScale 2 -OutputPath $dir
        $b = New-WuerstchenImage 'dog' @Fast -Seed 2 -NegativePrompt 'dark' -PriorGuidanceScale 2 -OutputPath $dir -Force
        $b.Name | Should -Not -Be $a.Name # another image: the next number, the first one kept
        [Wuerstchen.Core.IO.ImageFile]::ReadParameters($a.FullName)['negative_prompt'] | Should -Be 'blurry'
        $again = New-WuerstchenImage 'dog' @Fast -Seed 2 -NegativePrompt 'dark' -PriorGuidanceScale 2 -OutputPath $dir -Force
        $again.Name | Should -Be $b.Name # the same image: overwritten in place
        @(Get-ChildItem $dir).Count | Should -Be 2
    }
}
