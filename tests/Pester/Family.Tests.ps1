# The model family comes from the folder's model_index.json ("family"); what each family refuses or defaults to is
# said plainly. Folders laid out by other tools (TensorStack's Stable Cascade export) are recognised.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')

    function New-IndexOnlyFolder([string] $Json) {
        $dir = Join-Path $TestDrive ('family-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        New-Item -ItemType Directory -Path $dir | Out-Null
        Set-Content -LiteralPath (Join-Path $dir 'model_index.json') -Value $Json -NoNewline
        $dir
    }
}

Describe 'model families' {
    It 'an unknown family is InvalidModelIndex naming it and the known ones' {
        $dir = New-IndexOnlyFolder '{"family": "wuerstchen-v9"}'
        $err = $null
        Measure-WuerstchenPrompt -Prompt 'a cat' -ModelPath $dir -ErrorAction SilentlyContinue -ErrorVariable err | Out-Null
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'InvalidModelIndex*'
        $err[0].Exception.Message | Should -BeLike '*"wuerstchen-v9"*"stable-cascade"*'
    }

    It 'Stable Cascade refuses custom <Parameter> (its diffusers pipelines ignore them) before loading anything' -ForEach @(
        @{ Parameter = 'PriorTimesteps'; Steps = 'PriorSteps' }
        @{ Parameter = 'DecoderTimesteps'; Steps = 'DecoderSteps' }
    ) {
        $dir = New-IndexOnlyFolder '{"family": "stable-cascade"}'
        $p = @{ $Parameter = [float[]] (1, 0.5, 0) }
        $err = $null
        $out = New-WuerstchenImage 'a fox' -ModelPath $dir -OutputPath (Join-Path $TestDrive 'none') @p -ErrorAction SilentlyContinue -ErrorVariable err
        $out | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'TimestepsNotSupported*'
        "$($err[0].CategoryInfo.Category)" | Should -Be 'InvalidArgument'
        $err[0].Exception.Message | Should -BeLike "*Stable Cascade*-$Steps*"
        Test-Path (Join-Path $TestDrive 'none') | Should -BeFalse
    }

    It 'Stable Cascade has no image encoder: -ImagePath says so' {
        $dir = New-IndexOnlyFolder '{"family": "stable-cascade"}'
        $img = Join-Path $TestDrive 'in.png'
        $fs = [IO.File]::Create($img)
        try { [Wuerstchen.Core.IO.PngImage]::Write($fs, [byte[]]::new(3 * 128 * 128), 128, 128, [System.Collections.Generic.Dictionary[string, string]]::new(), 'BestSpeed') } finally { $fs.Dispose() }
        $err = $null
        Get-WuerstchenEmbedding -ImagePath $img -ModelPath $dir -ErrorAction SilentlyContinue -ErrorVariable err | Out-Null
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'NetworkNotInFamily*'
        $err[0].Exception.Message | Should -BeLike '*Stable Cascade*-Prompt*'
    }

    It 'Test-WuerstchenModel recognises the TensorStack layout and says how to get a usable folder' {
        $dir = Join-Path $TestDrive 'StableCascade-amuse'
        foreach ($f in 'tokenizer', 'text_encoder', 'prior', 'decoder', 'vae_decoder') {
            New-Item -ItemType Directory -Path (Join-Path $dir $f) -Force | Out-Null
            Set-Content -LiteralPath (Join-Path $dir $f 'model.onnx') -Value 'x'
        }
        $err = $null
        $r = @(Test-WuerstchenModel -ModelPath $dir -ErrorAction SilentlyContinue -ErrorVariable err)
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'ForeignModelLayout*'
        $r.Count | Should -Be 1
        "$($r[0].Status)" | Should -Be 'Invalid'
        $r[0].Problems[0].ErrorId | Should -Be 'ForeignModelLayout'
        $r[0].Problems[0].Message | Should -BeLike '*TensorStack*latent_sample*export_wuerstchen.py*stable-cascade-prior*'
        Test-WuerstchenModel -ModelPath $dir -Quiet | Should -BeFalse
    }
}
