# Reliability matrix, model folders: missing, empty, corrupt or mismatched networks (in a child process).
# What every case asserts, and the shared helpers: Reliability.Common.ps1.

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'Reliability.Common.ps1')
}

Describe 'Broken model folders (in a child process)' {
    BeforeAll {
        $script:Child = Invoke-ChildCases 'models' @'
function OutDir([string] $Name) { Join-Path $Work "out/$Name" }
Capture 'missing folder' (OutDir 'missing-folder') { New-WuerstchenImage 'x' @Small -ModelPath (Join-Path $Work 'models/no-such-model') -OutputPath (OutDir 'missing-folder') }
Capture 'missing folder test' $null { Test-WuerstchenModel -ModelPath (Join-Path $Work 'models/no-such-model') }

$m = Copy-Model 'missing-file'; Remove-Item (Join-Path $m 'prior/model.onnx')
Capture 'missing file' (OutDir 'missing-file') { New-WuerstchenImage 'x' @Small -ModelPath $m -OutputPath (OutDir 'missing-file') }
Capture 'missing file test' $null { Test-WuerstchenModel -ModelPath $m }

$m = Copy-Model 'zero-byte'; [IO.File]::WriteAllBytes((Join-Path $m 'decoder/model.onnx'), [byte[]]::new(0))
Capture 'zero-byte' (OutDir 'zero-byte') { New-WuerstchenImage 'x' @Small -ModelPath $m -OutputPath (OutDir 'zero-byte') }
Capture 'zero-byte test' $null { Test-WuerstchenModel -ModelPath $m }

$m = Copy-Model 'corrupt'; $corrupt = Join-Path $m 'vqgan/model.onnx'
[IO.File]::WriteAllBytes($corrupt, [byte[]] (1..4096 | ForEach-Object { ($_ * 131 + 7) % 256 }))
Capture 'corrupt' (OutDir 'corrupt') { New-WuerstchenImage 'x' @Small -ModelPath $m -OutputPath (OutDir 'corrupt') }
Capture 'corrupt test' $null { Test-WuerstchenModel -ModelPath $m }
# repaired in place: the failed load is not remembered
Copy-Item (Join-Path $Models 'vqgan/model.onnx') $corrupt -Force
Capture 'repaired' (OutDir 'repaired') { New-WuerstchenImage 'x' @Small -ModelPath $m -OutputPath (OutDir 'repaired') }

$m = Copy-Model 'renamed-input'; $p = Join-Path $m 'prior/model.onnx'
$text = [Text.Encoding]::Latin1.GetString([IO.File]::ReadAllBytes($p))
$count = ([regex]::Matches($text, 'timestep_ratio')).Count
[IO.File]::WriteAllBytes($p, [Text.Encoding]::Latin1.GetBytes($text.Replace('timestep_ratio', 'timestep_ratiX')))
Capture 'renamed input' (OutDir 'renamed-input') { "replaced $count"; New-WuerstchenImage 'x' @Small -ModelPath $m -OutputPath (OutDir 'renamed-input') }
Capture 'renamed input test' $null { Test-WuerstchenModel -ModelPath $m }

$m = Copy-Model 'text-width'
Copy-Item (Join-Path $m 'decoder_text_encoder/model.onnx') (Join-Path $m 'prior_text_encoder/model.onnx') -Force
Capture 'text width' (OutDir 'text-width') { New-WuerstchenImage 'x' @Small -ModelPath $m -OutputPath (OutDir 'text-width') }
Capture 'text width test' $null { Test-WuerstchenModel -ModelPath $m }

Capture 'good test' $null { Test-WuerstchenModel }
'@
        $script:ModelRoot = Join-Path $Child.Work 'models'
    }

    It 'the child process survives every case and its next good call works' {
        $Child.ExitCode | Should -Be 0 -Because $Child.Text
        $Child.Text | Should -Match 'CHILD-SURVIVED'
        $Child.Cases['next good call'].Files | Should -Be @('the-next-good-call-1-0.png')
        Assert-NextCallWorks
    }

    It 'New-WuerstchenImage fails on a <Case> with <Id> naming <Names>' -ForEach @(
        @{ Case = 'missing folder'; Id = 'ModelNotFound'; Category = 'ObjectNotFound'; Names = @('no-such-model', 'export_wuerstchen.py') }
        @{ Case = 'missing file'; Id = 'ModelFileNotFound'; Category = 'ObjectNotFound'; Names = @('missing-file/prior/model.onnx') }
        @{ Case = 'zero-byte'; Id = 'InvalidModelFile'; Category = 'InvalidData'; Names = @('zero-byte/decoder/model.onnx', '0 bytes') }
        @{ Case = 'corrupt'; Id = 'InvalidModelFile'; Category = 'InvalidData'; Names = @('corrupt/vqgan/model.onnx', 'Protobuf') }
        @{ Case = 'renamed input'; Id = 'ModelContractMismatch'; Category = 'InvalidData'; Names = @('renamed-input/prior/model.onnx', "'timestep_ratio'", 'timestep_ratiX') }
        @{ Case = 'text width'; Id = 'TextWidthMismatch'; Category = 'InvalidData'; Names = @('text-width/prior_text_encoder/model.onnx', 'text-width/prior/model.onnx', 'width 6', 'width 8') }
    ) {
        $c = $Child.Cases[$Case]
        $c | Should -Not -BeNullOrEmpty -Because $Child.Text
        $c.Errors.Count | Should -Be 1
        $info = $c.Errors[0]
        $info.Id | Should -BeLike '*NewWuerstchenImageCommand'
        $names = foreach ($n in $Names) { if ($n -match '^[\w-]+/') { Join-Path $ModelRoot ($n -replace '/', [IO.Path]::DirectorySeparatorChar) } else { $n } }
        Assert-ErrorInfo $info $Id $Category $names
        @($c.Output | Where-Object { $_ -like '*.png' }) | Should -BeNullOrEmpty
        # the output folder is created before the model is opened: it must be empty, no .png and no .tmp
        $c.Files | Should -BeNullOrEmpty
    }

    It 'the renamed-input case really renamed the tensor' {
        $Child.Cases['renamed input'].Output[0] | Should -Match '^replaced [1-9]'
    }

    It 'picks up a model file repaired after a failed load (a failed load is not cached)' {
        $c = $Child.Cases['repaired']
        $c.Errors | Should -BeNullOrEmpty
        $c.Files | Should -Be @('x-1-0.png')
    }

    It 'Test-WuerstchenModel reports every stage Ok on the good folder' {
        $c = $Child.Cases['good test']
        $c.Errors | Should -BeNullOrEmpty
        $c.Output | Should -Be @('PriorTokenizer=Ok', 'PriorTextEncoder=Ok', 'Prior=Ok', 'DecoderTokenizer=Ok', 'DecoderTextEncoder=Ok', 'Decoder=Ok', 'Vqgan=Ok', 'Effnet=Ok')
        # and in this process too
        $r = Test-WuerstchenModel
        @($r | Where-Object Status -ne 'Ok') | Should -BeNullOrEmpty
        @($r).Count | Should -Be 8
    }

    It 'Test-WuerstchenModel on a <Case> folder: <Stage> is <Status>, the error names file, expected and found' -ForEach @(
        @{ Case = 'missing folder test'; Stage = $null; Id = 'ModelNotFound'; Category = 'ObjectNotFound'; Names = @('no-such-model') }
        @{ Case = 'missing file test'; Stage = 'Prior'; Status = 'Missing'; Id = 'ModelFileNotFound'; Category = 'ObjectNotFound'; Names = @('missing-file/prior/model.onnx', 'expected: model.onnx; found: absent') }
        @{ Case = 'zero-byte test'; Stage = 'Decoder'; Status = 'Invalid'; Id = 'InvalidModelFile'; Category = 'InvalidData'; Names = @('zero-byte/decoder/model.onnx', 'expected: a loadable ONNX model; found: an empty file (0 bytes)') }
        @{ Case = 'corrupt test'; Stage = 'Vqgan'; Status = 'Invalid'; Id = 'InvalidModelFile'; Category = 'InvalidData'; Names = @('corrupt/vqgan/model.onnx', 'expected: a loadable ONNX model; found: 4096 bytes that ONNX Runtime cannot load') }
        @{ Case = 'renamed input test'; Stage = 'Prior'; Status = 'Invalid'; Id = 'ModelContractMismatch'; Category = 'InvalidData'; Names = @('renamed-input/prior/model.onnx', "expected: input 'timestep_ratio'; found: sample, timestep_ratiX, clip_text") }
        @{ Case = 'text width test'; Stage = 'Prior'; Status = 'Invalid'; Id = 'TextWidthMismatch'; Category = 'InvalidData'; Names = @('text-width/prior/model.onnx', 'text-width/prior_text_encoder/model.onnx', 'expected: 8; found: 6') }
    ) {
        $c = $Child.Cases[$Case]
        $c | Should -Not -BeNullOrEmpty -Because $Child.Text
        $c.Errors.Count | Should -Be 1
        $c.Errors[0].Id | Should -BeLike '*TestWuerstchenModelCommand'
        $names = foreach ($n in $Names) { if ($n -match '^[\w-]+/') { Join-Path $ModelRoot ($n -replace '/', [IO.Path]::DirectorySeparatorChar) } else { $n } }
        Assert-ErrorInfo $c.Errors[0] $Id $Category $names
        if ($Stage) {
            $c.Output | Should -Contain "$Stage=$Status"
            # only the broken stage is reported as broken
            @($c.Output | Where-Object { $_ -notlike '*=Ok' }) | Should -Be @("$Stage=$Status")
        }
    }
}

Describe 'Model files that are ambiguous or no files at all (issue 21, after the outside trial)' {
    BeforeAll {
        # a copy of the stand-in folder broken by $Break (given the copy's path)
        function New-BrokenModel([string] $Name, [scriptblock] $Break) {
            $dir = Join-Path $TestDrive "broken-$Name"
            Copy-Item -LiteralPath $Models -Destination $dir -Recurse
            & $Break $dir
            $dir
        }

        $script:Broken = @{
            'repeated key' = New-BrokenModel 'key' { param($m) Set-Content -LiteralPath (Join-Path $m 'model_index.json') -Value '{"family": "stable-cascade", "family": "wuerstchen-v2"}' }
            'repeated vocabulary id' = New-BrokenModel 'vocab' { param($m)
                $vocab = Join-Path $m 'prior_tokenizer/vocab.json'
                Set-Content -LiteralPath $vocab -Value ((Get-Content -LiteralPath $vocab -Raw).TrimEnd().TrimEnd('}') + ', "zzz-extra": 7}') -NoNewline }
            'folder named model.onnx' = New-BrokenModel 'folder' { param($m)
                Remove-Item -LiteralPath (Join-Path $m 'vqgan/model.onnx'); $null = New-Item -ItemType Directory (Join-Path $m 'vqgan/model.onnx') }
        }
        if (-not $IsWindows) {
            $Broken['symbolic link loop'] = New-BrokenModel 'loop' { param($m)
                $onnx = Join-Path $m 'vqgan/model.onnx'; Remove-Item -LiteralPath $onnx
                $null = New-Item -ItemType SymbolicLink -Path $onnx -Target "$onnx.b"; $null = New-Item -ItemType SymbolicLink -Path "$onnx.b" -Target $onnx }
        }
    }

    It '<Case>: Test-WuerstchenModel -Quiet is $false, the detailed form and New-WuerstchenImage say <Names>' -ForEach @(
        @{ Case = 'repeated key'; Id = 'InvalidModelIndex'; Names = @("'family' appears twice") }
        @{ Case = 'repeated vocabulary id'; Id = 'InvalidTokenizer'; Names = @('zzz-extra', 'both have id 7') }
        @{ Case = 'folder named model.onnx'; Id = 'InvalidModelFile'; Names = @('vqgan', 'model.onnx', 'is a folder') }
        @{ Case = 'symbolic link loop'; Id = 'InvalidModelFile'; Names = @('vqgan', 'model.onnx', 'loop of symbolic links') }
    ) {
        if (-not $Broken.ContainsKey($Case)) { Set-ItResult -Skipped -Because 'symbolic links need Linux or macOS here'; return }
        $model = $Broken[$Case]
        $quiet = Invoke-Capture { Test-WuerstchenModel -ModelPath $model -Quiet }
        $quiet.Errors | Should -BeNullOrEmpty
        $quiet.Output | Should -Be @($false) # $true before, for the repeated key and vocabulary id
        $detail = Invoke-Capture { Test-WuerstchenModel -ModelPath $model }
        $said = @($detail.Errors | ForEach-Object { $_.Exception.Message }) -join "`n"
        foreach ($n in $Names) { $said | Should -BeLike "*$n*" }
        $said | Should -Not -BeLike '*system error*'
        $said | Should -Not -BeLike '*does not exist*'
        $dir = Join-Path $TestDrive "out-$($Case -replace '[ .]', '-')"
        $r = Invoke-Capture { New-WuerstchenImage 'x' @Small -ModelPath $model -OutputPath $dir }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] $Id 'InvalidData' $Names
        Assert-NothingWritten $dir
    }
}
