# Stable Cascade image variation (-ImagePrompt) against diffusers' StableCascadePriorPipeline(images=[…]) on the
# repository's small test set (tests/data/cascade-image, README there): the realarch kit's cascade-image networks (the
# cascade set with a CLIP image encoder, its feature extractor at 56², and the prior's key/value mappers ×3), the
# diffusers reference of its three image jobs (embeddings, the processor's pixel_values, the encoder's image_embeds).
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:ImageDir = Join-Path $RepoRoot 'tests/data/cascade-image'
    $script:Jobs = Get-Content (Join-Path $ImageDir 'jobs.json') -Raw | ConvertFrom-Json -AsHashtable
    # the image set's prior, image encoder and model_index.json over the cascade set's text encoder, decoder and VQGAN
    # (the same weights: the two sets are built from the same seeds)
    $script:ImageModels = Join-Path $TestDrive 'cascade-image-models'
    Copy-Item (Join-Path $RepoRoot 'tests/data/cascade/models') $ImageModels -Recurse
    Copy-Item (Join-Path $ImageDir 'models/*') $ImageModels -Recurse -Force
    $script:Images = Join-Path $ImageDir 'images'

    function Get-ImageJob([string] $Name) {
        $j = $Jobs[$Name]
        $files = $j.images
        $p = @{ Prompt = [string[]] $j.prompts; Seed = [long] $j.seed; Width = $j.width; Height = $j.height; ImagesPerPrompt = $j.n
            PriorSteps = $j.prior_steps; PriorGuidanceScale = $j.prior_guidance; ModelPath = $ImageModels
            LiteralImagePrompt = [string[]] ($files | ForEach-Object { Join-Path $ImageDir $_ }) }
        if ($j.ContainsKey('negative') -and $null -ne $j.negative) { $p.NegativePrompt = $j.negative }
        $p
    }

    function Get-ProcessorSettings {
        $index = Get-Content (Join-Path $ImageModels 'model_index.json') -Raw
        $doc = [System.Text.Json.JsonDocument]::Parse($index)
        [Wuerstchen.Core.Preprocessing.ClipImageSettings]::FromJson($doc.RootElement.GetProperty('feature_extractor'))
    }
}

Describe 'New-WuerstchenImage -ImagePrompt: parity with diffusers (Stable Cascade image variation)' {
    It '<_>: embeddings within 1e-4 relative of StableCascadePriorPipeline(images=…)' -ForEach @('a-image', 'b-two-images-cfg', 'c-image-no-guidance') {
        $p = Get-ImageJob $_
        $emb = @(Get-WuerstchenEmbedding @p)
        $expected = [Wuerstchen.Core.IO.Npy]::Read((Join-Path $ImageDir "$_.embeddings.npy"))
        $emb.Count | Should -Be $expected.Shape[0]
        $actual = [float[]] ($emb | ForEach-Object { $_.Data })
        Get-RelativeError $actual $expected.Floats | Should -BeLessOrEqual 1e-4
    }

    It 'the image prompts are prepared bit for bit as CLIPImageProcessor prepares them (pixel_values; the JPEG decoded as PIL decodes it)' {
        $settings = Get-ProcessorSettings
        foreach ($case in @(@{ Job = 'a-image'; Row = 0; File = 'gradient-300x200.png' }, @{ Job = 'b-two-images-cfg'; Row = 0; File = 'photo-256x384.jpg' },
                @{ Job = 'b-two-images-cfg'; Row = 1; File = 'alpha-150x120.png' }, @{ Job = 'c-image-no-guidance'; Row = 0; File = 'photo-256x384.jpg' })) {
            $expected = [Wuerstchen.Core.IO.Npy]::Read((Join-Path $ImageDir "$($case.Job).pixel_values.npy"))
            $per = $expected.Floats.Length / $expected.Shape[0]
            $want = [float[]] $expected.Floats[($case.Row * $per)..(($case.Row + 1) * $per - 1)]
            $got = [Wuerstchen.Core.Preprocessing.ClipImagePreprocessor]::Load((Join-Path $Images $case.File), $settings)
            $got.Length | Should -Be $per
            $diff = 0; for ($i = 0; $i -lt $per; $i++) { if ($got[$i] -ne $want[$i]) { $diff++ } }
            $diff | Should -Be 0 -Because "$($case.File) decodes to PIL's pixels, so every value must be equal"
        }
    }

    It 'the same images through Get-WuerstchenEmbedding | ConvertFrom-WuerstchenEmbedding give New-WuerstchenImage''s pixels' {
        $p = Get-ImageJob 'a-image'
        $p.Width = 256; $p.Height = 256; $p.PriorSteps = 2
        $new = @(New-WuerstchenImage @p -DecoderSteps 2 -OutputPath (Join-Path $TestDrive 'new'))
        $split = @(Get-WuerstchenEmbedding @p | ConvertFrom-WuerstchenEmbedding -DecoderSteps 2 -ModelPath $ImageModels -OutputPath (Join-Path $TestDrive 'split'))
        (Compare-Bytes (Get-Rgb $split[0].FullName).Bytes (Get-Rgb $new[0].FullName).Bytes).Max | Should -Be 0
    }

    It 'images change the embedding; without -ImagePrompt the prior gets zeros (text-to-image)' {
        $p = Get-ImageJob 'a-image'
        $p.Width = 256; $p.Height = 256; $p.PriorSteps = 2
        $with = (Get-WuerstchenEmbedding @p).Data
        $p.Remove('LiteralImagePrompt')
        $without = (Get-WuerstchenEmbedding @p).Data
        Get-RelativeError $with $without | Should -BeGreaterThan 1e-3
    }
}

Describe 'New-WuerstchenImage -ImagePrompt: the ways in' {
    BeforeAll {
        $script:Small = @{ Prompt = 'a fox'; Seed = 5; Width = 256; Height = 256; PriorSteps = 2; ModelPath = $ImageModels }
        $script:Both = @((Join-Path $Images 'gradient-300x200.png'), (Join-Path $Images 'alpha-150x120.png'))
        $script:Reference = (Get-WuerstchenEmbedding @Small -LiteralImagePrompt $Both).Data
    }

    It 'wildcards expand (in name order) and give the same embedding as the files named one by one' {
        (Get-WuerstchenEmbedding @Small -ImagePrompt (Join-Path $Images 'gradient-*.png'), (Join-Path $Images 'alpha-*.png')).Data |
            Should -Be $Reference
    }

    It 'a CSV ImagePrompt cell lists files separated by ";"' {
        $csv = Join-Path $TestDrive 'rows.csv'
        "Prompt,Seed,Width,Height,PriorSteps,ImagePrompt`n""a fox"",5,256,256,2,""$($Both -join ';')""" | Set-Content $csv
        (Import-Csv $csv | Get-WuerstchenEmbedding -ModelPath $ImageModels).Data | Should -Be $Reference
    }

    It 'the output records the images'' names and SHA-256, and Get-WuerstchenImageInfo | New-WuerstchenImage remakes the image' {
        $out = (New-Item -ItemType Directory (Join-Path $TestDrive 'remake')).FullName
        $file = New-WuerstchenImage @Small -DecoderSteps 2 -LiteralImagePrompt $Both -OutputPath (Join-Path $out 'one.png')
        $file.LiteralImagePrompt | Should -Be @('gradient-300x200.png', 'alpha-150x120.png')
        $file.ImagePromptSha256 | Should -Be @($Both | ForEach-Object { (Get-FileHash $_ -Algorithm SHA256).Hash.ToLowerInvariant() })
        Push-Location $Images # the metadata names the files, not their folder: remake where they are
        try {
            $again = Get-WuerstchenImageInfo -LiteralPath $file.FullName | New-WuerstchenImage -ModelPath $ImageModels -OutputPath (Join-Path $out 'two.png')
        } finally { Pop-Location }
        $again.LiteralImagePrompt | Should -Be $file.LiteralImagePrompt
        (Compare-Bytes (Get-Rgb $again.FullName).Bytes (Get-Rgb $file.FullName).Bytes).Max | Should -Be 0
    }

    It 'an embedding file keeps the image prompts through Export- and Import-WuerstchenEmbedding' {
        $npy = Join-Path $TestDrive 'iv.npy'
        Get-WuerstchenEmbedding @Small -LiteralImagePrompt $Both | Export-WuerstchenEmbedding -Path $npy
        (Import-WuerstchenEmbedding -Path $npy).ImagePrompts | Should -Be @('gradient-300x200.png', 'alpha-150x120.png')
    }
}

Describe 'New-WuerstchenImage -ImagePrompt: errors' {
    BeforeAll {
        $script:Small = @{ Prompt = 'a fox'; Seed = 5; Width = 256; Height = 256; PriorSteps = 2 }
        $script:Png = Join-Path $Images 'gradient-300x200.png'
    }

    It 'a pattern that matches nothing is ImageFileNotFound, not text-to-image' {
        $r = Invoke-Capture { New-WuerstchenImage @Small -DecoderSteps 2 -ModelPath $ImageModels -ImagePrompt (Join-Path $TestDrive 'none-*.png') -OutputPath (Join-Path $TestDrive 'x') }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'ImageFileNotFound,*'
        $r.Output | Should -BeNullOrEmpty
        Test-Path (Join-Path $TestDrive 'x') | Should -BeFalse
    }

    It 'Würstchen v2 has no image encoder for its prior: NetworkNotInFamily, naming -ImagePath as the way to embed a photo' {
        $r = Invoke-Capture { Get-WuerstchenEmbedding @Small -ImagePrompt $Png }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'NetworkNotInFamily,*'
        "$($r.Errors[0])" | Should -BeLike '*-ImagePrompt*'
    }

    It 'a Stable Cascade folder without image_encoder/ says how to get one (ImageEncoderNotFound)' {
        $r = Invoke-Capture { Get-WuerstchenEmbedding @Small -ModelPath (Join-Path $RepoRoot 'tests/data/cascade/models') -ImagePrompt $Png }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'ImageEncoderNotFound,*'
        "$($r.Errors[0])" | Should -BeLike '*image_encoder*'
    }

    It 'a prior exported for one image takes one image, and says so for two (TooManyImagePrompts)' {
        $old = Join-Path $TestDrive 'old-prior'
        Copy-Item $ImageModels $old -Recurse
        Copy-Item (Join-Path $RepoRoot 'tests/data/cascade/models/prior/model.onnx') (Join-Path $old 'prior/model.onnx') -Force
        @(Get-WuerstchenEmbedding @Small -ModelPath $old -ImagePrompt $Png).Count | Should -Be 1
        $r = Invoke-Capture { Get-WuerstchenEmbedding @Small -ModelPath $old -ImagePrompt $Png, $Png }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'TooManyImagePrompts,*'
        "$($r.Errors[0])" | Should -BeLike '*re-export*'
    }

    It 'a feature extractor without a centre crop is ImageEncoderSizeMismatch, in Test-WuerstchenModel too' {
        $nc = Join-Path $TestDrive 'no-crop'
        Copy-Item $ImageModels $nc -Recurse
        $index = Get-Content (Join-Path $nc 'model_index.json') -Raw | ConvertFrom-Json -AsHashtable
        $index.feature_extractor.do_center_crop = $false
        $index | ConvertTo-Json -Depth 8 | Set-Content (Join-Path $nc 'model_index.json')
        Test-WuerstchenModel $nc -Quiet | Should -BeFalse
        (Test-WuerstchenModel $nc -ErrorAction SilentlyContinue | Where-Object Stage -eq 'ImageEncoder').Problems.ErrorId | Should -Contain 'ImageEncoderSizeMismatch'
        $r = Invoke-Capture { Get-WuerstchenEmbedding @Small -ModelPath $nc -ImagePrompt $Png }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'ImageEncoderSizeMismatch,*'
    }

    It 'a remake refuses an image prompt whose content changed under the same name (ImageInputChanged)' {
        $dir = (New-Item -ItemType Directory (Join-Path $TestDrive 'changed')).FullName
        Copy-Item $Png (Join-Path $dir 'ref.png')
        $file = New-WuerstchenImage @Small -DecoderSteps 2 -ModelPath $ImageModels -LiteralImagePrompt (Join-Path $dir 'ref.png') -OutputPath (Join-Path $dir 'a.png')
        Copy-Item (Join-Path $Images 'alpha-150x120.png') (Join-Path $dir 'ref.png') -Force
        Push-Location $dir
        try { $r = Invoke-Capture { Get-WuerstchenImageInfo -LiteralPath $file.FullName | New-WuerstchenImage -ModelPath $ImageModels -OutputPath (Join-Path $dir 'b.png') } }
        finally { Pop-Location }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'ImageInputChanged,*'
    }

    It 'a file named "[1].png" or "a;b.png" is taken as written by -LiteralImagePrompt and from a remake' {
        $dir = (New-Item -ItemType Directory (Join-Path $TestDrive 'names')).FullName
        Copy-Item $Png (Join-Path $dir 'a;b.png')
        Copy-Item -LiteralPath $Png -Destination (Join-Path $dir '[1].png')
        $file = New-WuerstchenImage @Small -DecoderSteps 2 -ModelPath $ImageModels -LiteralImagePrompt (Join-Path $dir '[1].png'), (Join-Path $dir 'a;b.png') -OutputPath (Join-Path $dir 'a.png')
        $file.LiteralImagePrompt | Should -Be @('[1].png', 'a;b.png')
        Push-Location $dir
        try { $again = Get-WuerstchenImageInfo -LiteralPath $file.FullName | New-WuerstchenImage -ModelPath $ImageModels -OutputPath (Join-Path $dir 'b.png') }
        finally { Pop-Location }
        (Compare-Bytes (Get-Rgb $again.FullName).Bytes (Get-Rgb $file.FullName).Bytes).Max | Should -Be 0
    }

    It '-WhatIf says NetworkNotInFamily for image prompts with Würstchen v2, as the run would' {
        $r = Invoke-Capture { New-WuerstchenImage @Small -ImagePrompt $Png -OutputPath (Join-Path $TestDrive 'x') -WhatIf }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'NetworkNotInFamily,*'
    }

    It 'Get-WuerstchenImageInfo | Export-Csv loses the list of image prompts: the cell ''System.String[]'' says how to keep it' {
        $csv = Join-Path $TestDrive 'info.csv'
        [pscustomobject]@{ Prompt = 'a'; LiteralImagePrompt = [string[]] @($Png) } | Export-Csv $csv
        $r = Invoke-Capture { Import-Csv $csv | Get-WuerstchenEmbedding @Small -ModelPath $ImageModels }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'ArrayLostInCsv,*'
        "$($r.Errors[0])" | Should -BeLike '*-join*'
    }

    It 'an ImagePrompt cell of ";" names no file (InvalidImagePrompt), not text-to-image' {
        $r = Invoke-Capture { [pscustomobject]@{ Prompt = 'a'; ImagePrompt = ';' } | Get-WuerstchenEmbedding @Small -ModelPath $ImageModels }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'InvalidImagePrompt,*'
        $r.Output | Should -BeNullOrEmpty
    }

    It 'more than 16 images is TooManyImagePrompts before anything runs' {
        $r = Invoke-Capture { Get-WuerstchenEmbedding @Small -ModelPath $ImageModels -LiteralImagePrompt (@($Png) * 17) }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'TooManyImagePrompts,*'
    }

    It 'a file that is not an image is InvalidImageFile for that record, and the next record still runs' {
        $bad = Join-Path $TestDrive 'not-an-image.png'
        'hello' | Set-Content $bad
        $rows = @([pscustomobject]@{ Prompt = 'a'; ImagePrompt = $bad }, [pscustomobject]@{ Prompt = 'b'; ImagePrompt = $Png })
        $r = Invoke-Capture { $rows | Get-WuerstchenEmbedding -Seed 5 -Width 256 -Height 256 -PriorSteps 2 -ModelPath $ImageModels }
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'InvalidImageFile,*'
        $r.Output.Count | Should -Be 1
        $r.Output[0].Prompt | Should -Be 'b'
    }
}
