# model_index.json is checked against docs/spec/model-contract.json: a wrong type or an out-of-range value is an
# InvalidModelIndex error naming the key and the value; an unknown key (a typo) is a warning; a max_length the
# text encoders cannot read is reported by Test-WuerstchenModel.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')

    # a private copy of the stand-in models with the given model_index.json
    function New-ModelWithIndex([string] $Json) {
        $dir = Join-Path $TestDrive ('index-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        Copy-Item -LiteralPath $Models -Destination $dir -Recurse
        Set-Content -LiteralPath (Join-Path $dir 'model_index.json') -Value $Json -NoNewline
        $dir
    }
}

Describe 'model_index.json against the contract' {
    It 'rejects <Json> naming the key and the value' -ForEach @(
        @{ Json = '{"resolution_multiple": "abc"}'; Key = 'resolution_multiple'; Value = '"abc"' }
        @{ Json = '{"name": 5}'; Key = 'name'; Value = '5' }
    ) {
        $dir = New-ModelWithIndex $Json
        $err = $null
        Measure-WuerstchenPrompt -Prompt 'a cat' -ModelPath $dir -ErrorAction SilentlyContinue -ErrorVariable err | Out-Null
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'InvalidModelIndex*'
        "$($err[0].CategoryInfo.Category)" | Should -Be 'InvalidData'
        $err[0].Exception.Message | Should -BeLike "*'$Key' holds $Value;*"
    }

    It 'warns about the unknown key resolutoin_multiple and still works' {
        $dir = New-ModelWithIndex '{"resolutoin_multiple": 40}'
        $warnings = $null
        $r = Measure-WuerstchenPrompt -Prompt 'a cat' -ModelPath $dir -WarningVariable warnings -WarningAction SilentlyContinue
        $r | Should -Not -BeNullOrEmpty
        @($warnings | Where-Object { "$_" -like "*unknown key 'resolutoin_multiple'*" }).Count | Should -Be 1
    }

    It 'Test-WuerstchenModel reports max_length 1000 against the text encoders fixed length 77' {
        $dir = New-ModelWithIndex '{"max_length": 1000}'
        $results = Test-WuerstchenModel -ModelPath $dir -WarningAction SilentlyContinue -ErrorAction SilentlyContinue
        foreach ($stage in 'PriorTextEncoder', 'DecoderTextEncoder') {
            $r = @($results | Where-Object Stage -EQ $stage)
            $r.Count | Should -Be 1
            $p = @($r[0].Problems)
            $p.Count | Should -Be 1
            $p[0].ErrorId | Should -Be 'MaxLengthMismatch'
            $p[0].Message | Should -BeLike '*max_length 1000*length 77*'
        }
    }
}
