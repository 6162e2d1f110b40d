# Reliability matrix, what a generation records (issue 21 after the outside trial): a prompt is bounded where it comes
# in, whatever the module writes (PNG text, an embedding's sidecar) it reads back, and what it reads back is capped as
# the command line is. What every case asserts, and the shared helpers: Reliability.Common.ps1.

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'Reliability.Common.ps1')

    function New-Folder([string] $Name) {
        $dir = Join-Path $TestDrive ($Name + '-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        $null = New-Item -ItemType Directory $dir
        $dir
    }

    # what refusing costs: seconds and bytes allocated by this process while $Script runs
    function Measure-Refusal([scriptblock] $Script) {
        [GC]::Collect()
        $before = [GC]::GetTotalAllocatedBytes($true)
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $r = Invoke-Capture $Script
        $r | Add-Member Seconds $watch.Elapsed.TotalSeconds
        $r | Add-Member Allocated ([GC]::GetTotalAllocatedBytes($true) - $before)
        $r
    }

    $script:Huge = 'a' * 5000000
}

Describe 'A prompt is bounded before any work is done on it' {
    It '<Command> refuses a 5-million-character prompt with PromptTooLong within a second' -ForEach @(
        @{ Command = 'New-WuerstchenImage' }
        @{ Command = 'Get-WuerstchenEmbedding' }
        @{ Command = 'Measure-WuerstchenPrompt' }
    ) {
        $dir = New-Folder 'huge'
        $p = @{ Prompt = $Huge }
        if ($Command -ne 'Measure-WuerstchenPrompt') { $p += @{ Width = 128; Height = 128; Seed = 1; PriorSteps = 2 } }
        if ($Command -eq 'New-WuerstchenImage') { $p += @{ DecoderSteps = 2; OutputPath = $dir } }
        $r = Measure-Refusal { & $Command @p }
        @($r.Output).Count | Should -Be 0 # (not -BeNullOrEmpty: a failure would print five million characters)
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'PromptTooLong' 'InvalidArgument' @('5000000 characters', '10000', 'aaaa')
        $r.Errors[0].Exception.Message.Length | Should -BeLessThan 600
        $r.Seconds | Should -BeLessThan 2 # 11 s before
        $r.Allocated | Should -BeLessThan 64MB # 550 MB before
        Assert-NothingWritten $dir
    }

    It 'a CSV row with a 5-million-character prompt is that row''s PromptTooLong; the next row is made' {
        $dir = New-Folder 'huge-rows'
        $rows = @([pscustomobject]@{ Prompt = $Huge }, [pscustomobject]@{ Prompt = 'a small cat' })
        $r = Measure-Refusal { $rows | New-WuerstchenImage @Small -OutputPath $dir }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'PromptTooLong' 'InvalidArgument' @('Pipeline record 1', '5000000 characters')
        @($r.Output).Count | Should -Be 1
        $r.Output[0].Prompt | Should -Be 'a small cat'
        $r.Seconds | Should -BeLessThan 10
    }

    It 'a prompt of exactly 10,000 characters is still taken (the 77-token window drops the rest with a warning)' {
        $e = Get-WuerstchenEmbedding ('w ' * 5000) -Width 128 -Height 128 -Seed 1 -PriorSteps 2 -WarningAction SilentlyContinue
        $e.Prompt.Length | Should -Be 10000
    }
}

Describe 'What the module writes, it reads back' {
    It 'an image of a 32-prompt batch of 10,000 ''<'' each keeps its batch_prompts for Get-WuerstchenImageInfo (a 1.9 MB text chunk)' {
        $dir = New-Folder 'batch'
        $batch = foreach ($i in 1..32) { "$i " + ('<' * 9990) }
        $f = New-WuerstchenImage $batch[31] -BatchPrompts $batch -PromptIndex 31 @Small -OutputPath (Join-Path $dir 'b.png') -WarningAction SilentlyContinue
        $r = Invoke-Capture { Get-WuerstchenImageInfo -LiteralPath $f.FullName }
        $r.Errors | Should -BeNullOrEmpty # InvalidImageFile (a text chunk over 1 MiB) before
        $info = $r.Output[0]
        $info.BatchPrompts | Should -Be $batch
        $info.Prompt | Should -Be $batch[31]
        $f.Length | Should -BeLessThan 1MB # '<' is written as itself, not as the six bytes of \u003C
    }

    It 'an exported embedding whose prompt is 10,000 ''<'' reads back, its sidecar the size of its text' {
        $dir = New-Folder 'lt'
        $prompt = '<' * 10000
        $e = Get-WuerstchenEmbedding $prompt -Width 128 -Height 128 -Seed 1 -PriorSteps 2 -WarningAction SilentlyContinue
        $null = $e | Export-WuerstchenEmbedding -Path (Join-Path $dir 'lt.npy')
        (Get-Item (Join-Path $dir 'lt.json')).Length | Should -BeLessThan 20000 # 60 KB before
        (Import-WuerstchenEmbedding -Path (Join-Path $dir 'lt.npy')).Prompt | Should -Be $prompt
    }

    It 'Export-WuerstchenEmbedding -Path x.<Extension> is UnsupportedEmbeddingFormat, as New-WuerstchenImage -OutputPath x.gif is; nothing is written' -ForEach @(
        @{ Extension = 'txt' }
        @{ Extension = 'png' }
    ) {
        $dir = New-Folder 'ext'
        $e = Get-WuerstchenEmbedding 'a fox' -Width 128 -Height 128 -Seed 1 -PriorSteps 2
        $r = Invoke-Capture { $e | Export-WuerstchenEmbedding -Path (Join-Path $dir "x.$Extension") }
        $r.Errors.Count | Should -Be 1 # .npy data written to x.txt before
        Assert-WuerstchenError $r.Errors[0] 'UnsupportedEmbeddingFormat' 'InvalidArgument' @("x.$Extension", '.npy')
        Assert-NothingWritten $dir
        # .npy in any case, and no extension (.npy is added), are written
        ($e | Export-WuerstchenEmbedding -Path (Join-Path $dir 'y.NPY')).Name | Should -Be 'y.NPY'
        ($e | Export-WuerstchenEmbedding -Path (Join-Path $dir 'z')).Name | Should -Be 'z.npy'
    }

    It 'Export-WuerstchenEmbedding refuses an embedding object whose prompt is over the limit; nothing is written' {
        $dir = New-Folder 'obj'
        $e = Get-WuerstchenEmbedding 'a fox' -Width 128 -Height 128 -Seed 1 -PriorSteps 2
        $e.Prompt = $Huge
        $r = Invoke-Capture { $e | Export-WuerstchenEmbedding -Path (Join-Path $dir 'huge.npy') }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'PromptTooLong' 'InvalidArgument' @('5000000 characters')
        Assert-NothingWritten $dir
    }
}

Describe 'Sidecars read back as the command line reads' {
    BeforeAll {
        $script:Pair = New-Folder 'pair'
        Get-WuerstchenEmbedding 'a red fox' -Width 128 -Height 128 -Seed 7 -PriorSteps 2 | Export-WuerstchenEmbedding -Path (Join-Path $Pair 'good.npy')
        $script:GoodJson = Get-Content -LiteralPath (Join-Path $Pair 'good.json') -Raw

        # a copy of the good pair whose sidecar has been through $Edit (a script block on the parsed JSON)
        function New-EditedPair([string] $Name, [scriptblock] $Edit) {
            Copy-Item -LiteralPath (Join-Path $Pair 'good.npy') (Join-Path $Pair "$Name.npy")
            $doc = $GoodJson | ConvertFrom-Json
            & $Edit $doc
            $doc | ConvertTo-Json -Depth 6 | Set-Content -LiteralPath (Join-Path $Pair "$Name.json")
            Join-Path $Pair "$Name.npy"
        }
    }

    It 'a sidecar without data_sha256 (0.4 and earlier) imports with one warning naming it' {
        $npy = New-EditedPair 'nohash' { param($d) $d.PSObject.Properties.Remove('data_sha256') }
        $r = Invoke-Capture { Import-WuerstchenEmbedding -Path $npy }
        $r.Errors | Should -BeNullOrEmpty
        $r.Output[0].Prompt | Should -Be 'a red fox'
        $r.Warnings.Count | Should -Be 1 # silent before
        $r.Warnings[0] | Should -BeLike '*nohash.json*data_sha256*Export-WuerstchenEmbedding*'
        (Invoke-Capture { Import-WuerstchenEmbedding -Path (Join-Path $Pair 'good.npy') }).Warnings | Should -BeNullOrEmpty
    }

    It 'a sidecar <Key> of <Case> is InvalidEmbeddingFile naming it, and the next file is read' -ForEach @(
        @{ Key = 'seed'; Case = '1e308'; Value = 1e308; Names = @("'seed'", '1E+308', 'outside') }
        @{ Key = 'seed'; Case = '2.5'; Value = 2.5; Names = @("'seed'", '2.5', 'not a whole number') }
        @{ Key = 'width'; Case = '100000'; Value = 100000; Names = @('width', '100000') }
        @{ Key = 'prior_timesteps'; Case = '200,000 values'; Value = [double[]] (1..200000); Names = @('prior_timesteps', '200000 values', '1001') }
    ) {
        $npy = New-EditedPair "bad-$Key" { param($d) $d.embeddings[0].$Key = $Value }
        $r = Measure-Refusal { Import-WuerstchenEmbedding -Path $npy, (Join-Path $Pair 'good.npy') }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'InvalidEmbeddingFile' 'InvalidData' ($Names + @("bad-$Key.json"))
        @($r.Output).Count | Should -Be 1
        $r.Output[0].Prompt | Should -Be 'a red fox'
        $r.Seconds | Should -BeLessThan 5
    }
}
