# Stable Cascade through the same cmdlets, against the repository's small test set (tests/data/cascade): random-weight
# networks of the real diffusers classes (StableCascadeUNet prior and decoder, PaellaVQModel, a CLIPTextModelWithProjection
# replica) exported by models/export, with the expected outputs of diffusers' StableCascadePriorPipeline +
# StableCascadeDecoderPipeline (one CPU generator, float32). tests/data/cascade/README.md says how it was made.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:CascadeDir = Join-Path $RepoRoot 'tests/data/cascade'
    $script:CascadeModels = Join-Path $CascadeDir 'models'
    $script:Jobs = Get-Content (Join-Path $CascadeDir 'jobs.json') -Raw | ConvertFrom-Json -AsHashtable

    function Get-CascadeJob([string] $Name) {
        $j = $Jobs[$Name]
        $p = @{ Prompt = [string[]] $j.prompts; Seed = [long] $j.seed; Width = $j.width; Height = $j.height; ImagesPerPrompt = $j.n
            PriorSteps = $j.prior_steps; PriorGuidanceScale = $j.prior_guidance; ModelPath = $CascadeModels }
        if ($j.ContainsKey('negative') -and $null -ne $j.negative) { $p.NegativePrompt = $j.negative }
        $p
    }
    function Get-DecoderArgs([string] $Name) { @{ DecoderSteps = $Jobs[$Name].decoder_steps; DecoderGuidanceScale = $Jobs[$Name].decoder_guidance } }

    function Read-Images($Files) {
        $all = [System.Collections.Generic.List[byte]]::new()
        foreach ($f in $Files) { $all.AddRange((Get-Rgb $f.FullName).Bytes) }
        , $all.ToArray()
    }

}

Describe 'Stable Cascade parity with diffusers' {
    It '<_>: images within 2 levels, 99.9 % within 1' -ForEach @('s-batch-cfg', 's-wide', 's-decoder-cfg', 's-empty', 's-off-grid') {
        $p = Get-CascadeJob $_
        $d = Get-DecoderArgs $_
        $files = @(New-WuerstchenImage @p @d -OutputPath (Join-Path $TestDrive $_) -WarningAction SilentlyContinue)
        $expected = [Wuerstchen.Core.IO.Npy]::Read((Join-Path $CascadeDir "$_.images_u8.npy"))
        $files.Count | Should -Be $expected.Shape[0]
        $files[0].ModelFamily | Should -Be 'stable-cascade'
        (Get-Rgb $files[0].FullName).Width | Should -Be $expected.Shape[2]
        $cmp = Compare-Bytes (Read-Images $files) $expected.Bytes
        $cmp.Max | Should -BeLessOrEqual 2
        $cmp.Over1 | Should -BeLessOrEqual ([int]($cmp.Count / 1000))
    }

    It '<_>: embeddings within 1e-4 relative' -ForEach @('s-batch-cfg', 's-decoder-cfg', 's-empty', 's-off-grid') {
        $p = Get-CascadeJob $_
        $emb = @(Get-WuerstchenEmbedding @p)
        $expected = [Wuerstchen.Core.IO.Npy]::Read((Join-Path $CascadeDir "$_.embeddings.npy"))
        $emb.Count | Should -Be $expected.Shape[0]
        $emb[0].Family | Should -Be 'stable-cascade'
        $actual = [float[]] ($emb | ForEach-Object { $_.Data })
        Get-RelativeError $actual $expected.Floats | Should -BeLessOrEqual 1e-4
    }

    It 'the decoder alone on the reference embedding (fresh generator) matches diffusers' {
        $j = $Jobs['s-batch-cfg']
        $d = Get-DecoderArgs 's-batch-cfg'
        $files = @(Import-WuerstchenEmbedding -Path (Join-Path $CascadeDir 's-batch-cfg.row0.embeddings.npy') |
            ConvertFrom-WuerstchenEmbedding -Seed $j.seed -Prompt $j.prompts[0] -NegativePrompt $j.negative @d -ModelPath $CascadeModels -OutputPath (Join-Path $TestDrive 'dec'))
        $expected = [Wuerstchen.Core.IO.Npy]::Read((Join-Path $CascadeDir 's-batch-cfg.decoder_only.images_u8.npy'))
        $cmp = Compare-Bytes (Read-Images $files) $expected.Bytes
        $cmp.Max | Should -BeLessOrEqual 2
        $cmp.Over1 | Should -BeLessOrEqual ([int]($cmp.Count / 1000))
    }

    It 'a side off the 128-pixel grid gives the size diffusers gives (280 → 296), with a warning saying so' {
        $p = Get-CascadeJob 's-off-grid'
        $d = Get-DecoderArgs 's-off-grid'
        $r = Invoke-Capture { New-WuerstchenImage @p @d -OutputPath (Join-Path $TestDrive 'offgrid') }
        $r.Errors | Should -BeNullOrEmpty
        $r.Output[0].Width | Should -Be 296
        $r.Output[0].Height | Should -Be 256
        (Get-Rgb $r.Output[0].FullName).Width | Should -Be 296
        @($r.Warnings | Where-Object { "$_" -like '*280×256 gives a 296×256 image*' }).Count | Should -Be 1
    }

    It 'a side whose decoder latent is odd (diffusers fails there too) is InvalidImageSize naming the nearest sides; nothing written' {
        $dir = Join-Path $TestDrive 'odd'
        $r = Invoke-Capture { New-WuerstchenImage 'a fox' -Width 1067 -Height 256 -PriorSteps 1 -DecoderSteps 1 -ModelPath $CascadeModels -OutputPath $dir }
        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'InvalidImageSize,*'
        $r.Errors[0].TargetObject | Should -Be 1067
        "$($r.Errors[0])" | Should -Match 'decoder latent of 277.*1066 or 1110'
        Test-Path $dir | Should -BeFalse
    }

    It 'a decoder exported before skips were resized is DecoderNeedsReexport off the grid (not ONNX Runtime''s shape error), and fine on it' {
        # the same folder with the decoder's "wuerstchen.skips" metadata key renamed (same length: still a valid file)
        $old = Join-Path $TestDrive 'old-export'
        Copy-Item $CascadeModels $old -Recurse
        $onnx = Join-Path $old 'decoder/model.onnx'
        $bytes = [IO.File]::ReadAllBytes($onnx)
        $text = [Text.Encoding]::Latin1.GetString($bytes)
        $at = $text.IndexOf('wuerstchen.skips', [StringComparison]::Ordinal)
        $at | Should -BeGreaterThan 0
        $bytes[$at + 'wuerstchen.skips'.Length - 1] = [byte][char]'z'
        [IO.File]::WriteAllBytes($onnx, $bytes)
        $j = Get-CascadeJob 's-off-grid'
        $j.ModelPath = $old
        $r = Invoke-Capture { New-WuerstchenImage @j -DecoderSteps 1 -OutputPath (Join-Path $TestDrive 'reexport') -WarningAction SilentlyContinue }
        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'DecoderNeedsReexport,*'
        "$($r.Errors[0])" | Should -Match 're-export it with models/export, or use sides in 128-pixel steps'
        Test-Path (Join-Path $TestDrive 'reexport') | Should -BeFalse
        $ok = New-WuerstchenImage 'a fox' -Width 256 -Height 256 -PriorSteps 1 -DecoderSteps 1 -ModelPath $old -OutputPath (Join-Path $TestDrive 'grid')
        $ok.Width | Should -Be 256
    }

    It 'pads prompts with the tokenizer''s "!" (id 0), as the reference tokenizer does' {
        $tokens = Get-Content (Join-Path $CascadeDir 'tokens.json') -Raw | ConvertFrom-Json -AsHashtable
        $text = $Jobs['s-batch-cfg'].prompts[0]
        $m = Measure-WuerstchenPrompt -Prompt $text -ModelPath $CascadeModels
        @($m.TokenIds | ForEach-Object { [int] $_ }) | Should -Be @($tokens[$text].input_ids)
        $m.TokenIds[-1] | Should -Be 0
    }
}

Describe 'Stable Cascade workflows' {
    It 'Get-WuerstchenEmbedding | ConvertFrom-WuerstchenEmbedding gives exactly the one-shot pixels (guidance on both stages)' {
        $p = Get-CascadeJob 's-batch-cfg'
        $d = Get-DecoderArgs 's-batch-cfg'
        $one = Read-Images @(New-WuerstchenImage @p @d -OutputPath (Join-Path $TestDrive 'one'))
        $piped = Read-Images @(Get-WuerstchenEmbedding @p | ConvertFrom-WuerstchenEmbedding @d -ModelPath $CascadeModels -OutputPath (Join-Path $TestDrive 'piped'))
        (Compare-Bytes $piped $one).Max | Should -Be 0
    }

    It 'uses the family''s defaults: 20 prior and 10 decoder steps, prior guidance 4, decoder guidance 0' {
        $f = New-WuerstchenImage 'a red fox' -Seed 3 -Width 256 -Height 256 -ModelPath $CascadeModels -OutputPath (Join-Path $TestDrive 'defaults')
        $f.PriorSteps | Should -Be 20
        $f.DecoderSteps | Should -Be 10
        $f.PriorGuidanceScale | Should -Be 4
        $f.DecoderGuidanceScale | Should -Be 0
    }

    It 'CSV rows give the same pixels as the command line' {
        $csv = Join-Path $TestDrive 'rows.csv'
        "Prompt,Seed,Width,Height,PriorSteps,DecoderSteps`n""a red fox"",7,256,256,3,2`n""a blue bird"",8,256,256,3,2" | Set-Content $csv
        $rows = @(Import-Csv $csv | New-WuerstchenImage -ModelPath $CascadeModels -OutputPath (Join-Path $TestDrive 'csv'))
        $rows.Count | Should -Be 2
        $cli = New-WuerstchenImage 'a blue bird' -Seed 8 -Width 256 -Height 256 -PriorSteps 3 -DecoderSteps 2 -ModelPath $CascadeModels -OutputPath (Join-Path $TestDrive 'cli')
        (Compare-Bytes (Get-Rgb $rows[1].FullName).Bytes (Get-Rgb $cli.FullName).Bytes).Max | Should -Be 0
    }

    It 'an .npy round trip records the family, and a v2 decoder refuses a Stable Cascade embedding' {
        $npy = Join-Path $TestDrive 'sc.npy'
        Get-WuerstchenEmbedding 'a red fox' -Seed 1 -Width 256 -Height 256 -PriorSteps 2 -ModelPath $CascadeModels | Export-WuerstchenEmbedding -Path $npy | Out-Null
        $back = Import-WuerstchenEmbedding -Path $npy
        $back.Family | Should -Be 'stable-cascade'
        $err = $null
        $back | ConvertFrom-WuerstchenEmbedding -DecoderSteps 2 -ModelPath $Models -OutputPath (Join-Path $TestDrive 'wrong') -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'EmbeddingFamilyMismatch*'
        $err[0].Exception.Message | Should -BeLike '*Stable Cascade*Würstchen v2*'
        Test-Path (Join-Path $TestDrive 'wrong') | Should -BeFalse
    }

    It 'a Stable Cascade decoder refuses a v2 embedding' {
        $v2 = Get-WuerstchenEmbedding 'a red fox' -Seed 1 -Width 256 -Height 256 -PriorSteps 2
        $err = $null
        $v2 | ConvertFrom-WuerstchenEmbedding -DecoderSteps 2 -ModelPath $CascadeModels -OutputPath (Join-Path $TestDrive 'wrong2') -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -BeLike 'EmbeddingFamilyMismatch*'
    }

    It 'Test-WuerstchenModel checks the Stable Cascade layout' {
        $r = @(Test-WuerstchenModel -ModelPath $CascadeModels)
        ($r | ForEach-Object Stage) -join ',' | Should -Be 'Tokenizer,TextEncoder,Prior,Decoder,Vqgan'
        @($r | Where-Object Status -ne 'Ok').Count | Should -Be 0
        Test-WuerstchenModel -ModelPath $CascadeModels -Quiet | Should -BeTrue
    }

    It 'Test-WuerstchenModel names a missing Stable Cascade network' {
        $dir = Join-Path $TestDrive 'broken'
        Copy-Item -Recurse $CascadeModels $dir
        Remove-Item -Recurse (Join-Path $dir 'decoder')
        $err = $null
        $r = @(Test-WuerstchenModel -ModelPath $dir -ErrorAction SilentlyContinue -ErrorVariable err)
        ($r | Where-Object Stage -eq 'Decoder').Status | Should -Be 'Missing'
        $err[0].FullyQualifiedErrorId | Should -BeLike 'ModelFileNotFound*'
    }
}
