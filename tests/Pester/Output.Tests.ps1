# Issue 9 points 14, 15 and 16: output objects, automatic names and the smaller points. Each test failed on the code
# before the fix.

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Small = @{ Width = 128; Height = 128; Seed = 1; PriorSteps = 1; DecoderSteps = 1 }
}

Describe 'Outputs are the provider''s FileInfo with the generation parameters (point 14)' {
    It 'has PSPath, Mode, UnixMode and Length as Get-Item gives them, plus Prompt and Seed' {
        $f = New-WuerstchenImage 'a red fox' @Small -OutputPath (Join-Path $TestDrive 'items')
        $item = Get-Item -LiteralPath $f.FullName
        $f.PSPath | Should -Be $item.PSPath
        $f.PSParentPath | Should -Be $item.PSParentPath
        $f.PSDrive.Name | Should -Be $item.PSDrive.Name
        $f.Mode | Should -Be $item.Mode
        $f.UnixMode | Should -Be $item.UnixMode
        $f.Length | Should -BeGreaterThan 0
        $f.Prompt | Should -Be 'a red fox'
        $f.Seed | Should -Be 1
    }

    It 'the default view shows Name, Prompt, Seed and the dimensions under a plain directory header' {
        $f = New-WuerstchenImage 'a red fox' @Small -OutputPath (Join-Path $TestDrive 'view')
        $text = $f | Out-String -Width 200
        $text | Should -Match 'Name\s+Prompt\s+Seed\s+Dimensions'
        $text | Should -Match ('Directory: ' + [regex]::Escape($f.DirectoryName))
        $text | Should -Not -Match 'FileSystem::'
        $text | Should -Match ([regex]::Escape($f.Name))
        $text | Should -Match 'a red fox\s+1\s+128x128'
    }

    It 'each image is emitted as soon as its file is written, not at the end of the batch' {
        $dir = Join-Path $TestDrive 'stream'
        # when the first object arrives, the second file must not have been written yet
        $seen = New-WuerstchenImage 'a red fox' @Small -ImagesPerPrompt 3 -OutputPath $dir |
            ForEach-Object { @(Get-ChildItem -LiteralPath $dir -Filter '*.png').Count }
        $seen | Should -Be @(1, 2, 3)
    }

    It 'Export-WuerstchenEmbedding returns the provider''s item too' {
        $npy = Join-Path $TestDrive 'one.npy'
        $f = Get-WuerstchenEmbedding 'a fox' -Width 128 -Height 128 -Seed 1 -PriorSteps 1 | Export-WuerstchenEmbedding -Path $npy
        $f.PSPath | Should -Be (Get-Item -LiteralPath $npy).PSPath
    }
}

Describe 'Automatic names (point 15)' {
    It 'the index in a name is the ImageIndex, and Get-… | ConvertFrom-… names the same rows as New-WuerstchenImage' {
        $one = Join-Path $TestDrive 'one'
        $two = Join-Path $TestDrive 'two'
        $a = New-WuerstchenImage 'a cat', 'a dog' @Small -ImagesPerPrompt 2 -OutputPath $one
        $a.Name | Should -Be @('a-cat-1-0.png', 'a-cat-1-1.png', 'a-dog-1-0.png', 'a-dog-1-1.png')
        foreach ($f in $a) { $f.Name | Should -Match "-$($f.ImageIndex)\.png$" }
        $b = Get-WuerstchenEmbedding 'a cat', 'a dog' -Width 128 -Height 128 -Seed 1 -PriorSteps 1 -ImagesPerPrompt 2 |
            ConvertFrom-WuerstchenEmbedding -DecoderSteps 1 -OutputPath $two
        $b.Name | Should -Be $a.Name
    }
}

Describe 'Smaller points (point 16)' {
    It 'leaves no empty output folder behind after a failed load' {
        $bad = Join-Path $TestDrive 'broken-model'
        Copy-Item -Recurse $Models $bad
        [IO.File]::WriteAllBytes((Join-Path $bad 'decoder/model.onnx'), [byte[]](1..64))
        $out = Join-Path $TestDrive 'never/made'
        $err = $null
        try { New-WuerstchenImage 'a fox' @Small -ModelPath $bad -OutputPath $out -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'InvalidModelFile,*'
        Test-Path (Join-Path $TestDrive 'never') | Should -BeFalse
        # a folder that existed before is kept
        $kept = New-Item -ItemType Directory (Join-Path $TestDrive 'kept')
        try { New-WuerstchenImage 'a fox' @Small -ModelPath $bad -OutputPath $kept.FullName -ErrorAction Stop } catch { }
        Test-Path $kept.FullName | Should -BeTrue
    }

    It 'Export- and Import-WuerstchenEmbedding have no -ModelPath; the others keep it' {
        (Get-Command Export-WuerstchenEmbedding).Parameters.ContainsKey('ModelPath') | Should -BeFalse
        (Get-Command Import-WuerstchenEmbedding).Parameters.ContainsKey('ModelPath') | Should -BeFalse
        (Get-Command ConvertFrom-WuerstchenEmbedding).Parameters.ContainsKey('ModelPath') | Should -BeTrue
    }

    It 'help shows parameter defaults' {
        "$((Get-Help New-WuerstchenImage -Parameter Width).defaultValue)" | Should -Match '1024'
        "$((Get-Help New-WuerstchenImage -Parameter ExecutionProvider).defaultValue)" | Should -Be 'Auto'
        "$((Get-Help New-WuerstchenImage -Parameter PriorGuidanceScale).defaultValue)" | Should -Match '4'
    }

    It 'help makes no -Online promise without a HelpUri, and still names the related commands' {
        foreach ($name in 'New-WuerstchenImage', 'Get-WuerstchenEmbedding', 'Test-WuerstchenModel') {
            (Get-Command $name).HelpUri | Should -BeNullOrEmpty
            $text = Get-Help $name | Out-String -Width 300
            $text | Should -Not -Match '-Online'
        }
        Get-Help New-WuerstchenImage -Full | Out-String -Width 300 | Should -Match 'Related commands: Get-WuerstchenEmbedding'
    }

    It 'error hints name README sections that exist' {
        $headings = Get-Content (Join-Path $RepoRoot 'README.md') | Where-Object { $_ -match '^#+ ' } | ForEach-Object { $_ -replace '^#+\s+', '' }
        $sources = Get-ChildItem (Join-Path $RepoRoot 'src') -Recurse -Filter '*.cs' | Where-Object FullName -notmatch '[\\/](bin|obj)[\\/]'
        $hints = foreach ($file in $sources) {
            foreach ($m in [regex]::Matches((Get-Content $file.FullName -Raw), "README(?: section|:) '([^']+)'")) { $m.Groups[1].Value }
        }
        $hints | Should -Not -BeNullOrEmpty
        foreach ($h in $hints) { $h | Should -BeIn $headings }
    }

    It 'completes -Width/-Height with valid sizes, -ExecutionProvider with its values and -ModelPath with folders' {
        function Complete([string] $Text) { TabExpansion2 -inputScript $Text -cursorColumn $Text.Length }
        Push-Location $RepoRoot
        try {
            $w = (Complete 'New-WuerstchenImage -Width 10').CompletionMatches.CompletionText
            $w | Should -Contain '1024'
            $w | Should -Not -Contain '1000'
            $h = (Complete 'Get-WuerstchenEmbedding -Height ').CompletionMatches.CompletionText
            $h.Count | Should -Be 32
            (Complete 'New-WuerstchenImage -ExecutionProvider ').CompletionMatches.CompletionText | Should -Be @('Auto', 'Cpu', 'Cuda')
            $m = (Complete 'Test-WuerstchenModel -ModelPath models/st').CompletionMatches
            $m.CompletionText | Should -Be @('models/standin')
            # folders only: README.md is not offered
            (Complete 'New-WuerstchenImage x -ModelPath READ').CompletionMatches.Count | Should -Be 0
        }
        finally { Pop-Location }
    }

    It 'an imported .npy without a sidecar is named after its file' {
        $npy = Join-Path $TestDrive 'lighthouse.npy'
        Get-WuerstchenEmbedding 'a fox' -Width 128 -Height 128 -Seed 1 -PriorSteps 1 | Export-WuerstchenEmbedding -Path $npy | Out-Null
        Remove-Item ([IO.Path]::ChangeExtension($npy, '.json'))
        $f = Import-WuerstchenEmbedding $npy | ConvertFrom-WuerstchenEmbedding -DecoderSteps 1 -OutputPath (Join-Path $TestDrive 'named')
        $f.Name | Should -BeLike 'lighthouse-*.png'
    }

    It 'an embedding whose Width/Height contradict its Shape is an error' {
        $e = Get-WuerstchenEmbedding 'a fox' -Width 128 -Height 128 -Seed 1 -PriorSteps 1
        $bad = [pscustomobject]@{ Prompt = 'wrong size'; Seed = 1; Width = 1024; Height = 1024; Shape = $e.Shape; Data = $e.Data }
        $err = $null
        try { $bad | ConvertFrom-WuerstchenEmbedding -DecoderSteps 1 -OutputPath (Join-Path $TestDrive 'contradiction') -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'EmbeddingSizeContradiction,*'
        "$($err.CategoryInfo.Category)" | Should -Be 'InvalidArgument'
        $err.TargetObject.Prompt | Should -Be 'wrong size'
        Test-Path (Join-Path $TestDrive 'contradiction') | Should -BeFalse
    }

    It 'an embedding passed through Select-Object * still continues its generator stream' {
        $one = New-WuerstchenImage 'a fox' @Small -OutputPath (Join-Path $TestDrive 'select-one')
        $two = Get-WuerstchenEmbedding 'a fox' -Width 128 -Height 128 -Seed 1 -PriorSteps 1 | Select-Object * |
            ConvertFrom-WuerstchenEmbedding -DecoderSteps 1 -OutputPath (Join-Path $TestDrive 'select-two')
        (Compare-Bytes (Get-Rgb $two.FullName).Bytes (Get-Rgb $one.FullName).Bytes).Max | Should -Be 0
    }

    It 'embeddings from <_> bind as a [pscustomobject] does' -ForEach @('Import-Clixml', 'ConvertFrom-Json') {
        $e = Get-WuerstchenEmbedding 'a fox' -Width 128 -Height 128 -Seed 1 -PriorSteps 1
        $round = if ($_ -eq 'Import-Clixml') {
            $xml = Join-Path $TestDrive 'e.xml'
            $e | Export-Clixml $xml
            Import-Clixml $xml
        }
        else { $e | ConvertTo-Json -Depth 4 | ConvertFrom-Json }
        $custom = [pscustomobject]@{ Prompt = $e.Prompt; Seed = $e.Seed; Width = $e.Width; Height = $e.Height; Shape = $e.Shape; Data = $e.Data }
        $a = $round | ConvertFrom-WuerstchenEmbedding -DecoderSteps 1 -OutputPath (Join-Path $TestDrive "round-$_")
        $b = $custom | ConvertFrom-WuerstchenEmbedding -DecoderSteps 1 -OutputPath (Join-Path $TestDrive "custom-$_")
        @($a).Count | Should -Be 1
        (Compare-Bytes (Get-Rgb $a.FullName).Bytes (Get-Rgb $b.FullName).Bytes).Max | Should -Be 0
    }
}
