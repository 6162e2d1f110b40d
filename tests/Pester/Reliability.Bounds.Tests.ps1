# Reliability matrix, files the module reads, bounded by construction: decoder bombs (GIF frames, PNG text), pipes and
# devices where a file is expected, oversized tokenizer files, a bad file among many (in a child process with a
# timeout, so a read that blocks forever fails the test instead of hanging it). What every case asserts, and the
# shared helpers: Reliability.Common.ps1.

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'Reliability.Common.ps1')
}

Describe 'Files the module reads are bounded (in a child process)' {
    BeforeAll {
        $script:InputDir = Join-Path $TestDrive 'bounds/in'
        $null = New-Item -ItemType Directory -Force $InputDir
        # 2000×2000 canvas, 40 one-pixel frames: ~0.9 KB that decoded every frame at the canvas size (40 × 12 MB)
        New-GifFrameBomb (Join-Path $InputDir 'frames.gif') 2000 2000 40
        # a 64×64 PNG with a zTXt chunk that inflates to 32 MiB (a 1 MB file can hold 1 GiB)
        $plain = Join-Path $TestDrive 'plain.png'
        $fs = [IO.File]::Create($plain)
        [Wuerstchen.Core.IO.PngImage]::Write($fs, [byte[]]::new(64 * 64 * 3), 64, 64, [Collections.Generic.Dictionary[string, string]]::new())
        $fs.Dispose()
        New-PngTextBomb $plain (Join-Path $InputDir 'text-bomb.png') 32MB
        $script:Unix = -not $IsWindows
        $script:Child = Invoke-ChildCases 'bounds' -TimeoutSeconds 240 -Body @'
$in = Join-Path $Work 'in'
$good = New-WuerstchenImage 'source' -Width 128 -Height 128 -Seed 3 -PriorSteps 2 -DecoderSteps 2 -OutputPath (Join-Path $in 'good.png')
Capture 'warm-up image' $null { Get-WuerstchenEmbedding -ImagePath $good.FullName -Seed 1 }
Capture 'gif frame bomb' $null { Get-WuerstchenEmbedding -ImagePath (Join-Path $in 'frames.gif') -Seed 1 }
Capture 'png text bomb' $null { Get-WuerstchenEmbedding -ImagePath (Join-Path $in 'text-bomb.png') -Seed 1 }

# one bad file among several: an error for that file, and the next file is read
$many = Join-Path $Work 'many'; $null = New-Item -ItemType Directory -Force $many
Copy-Item $good.FullName (Join-Path $many 'b-good.png')
[IO.File]::WriteAllBytes((Join-Path $many 'a-garbage.png'), [byte[]] (1..500 | ForEach-Object { $_ % 256 }))
Capture 'image wildcard' $null { Get-WuerstchenEmbedding -ImagePath (Join-Path $many '*.png') -Seed 1 }
$e = Get-WuerstchenEmbedding 'x' -Seed 1 -PriorSteps 2 -Width 128 -Height 128
$e | Export-WuerstchenEmbedding -Path (Join-Path $many 'b-good.npy')
$f8 = [byte[]] (0x93) + [Text.Encoding]::ASCII.GetBytes('NUMPY') + [byte[]] (1, 0, 118, 0) + [Text.Encoding]::ASCII.GetBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 16, 4096, 4096), }".PadRight(117) + "`n")
[IO.File]::WriteAllBytes((Join-Path $many 'a-float64.npy'), [byte[]] ($f8 + [byte[]]::new(64)))
Capture 'npy wildcard' $null { Import-WuerstchenEmbedding -Path (Join-Path $many '*.npy') }

if (-not $IsWindows) {
    $pipes = Join-Path $Work 'pipes'; $null = New-Item -ItemType Directory -Force $pipes
    mkfifo (Join-Path $pipes 'pipe.png') (Join-Path $pipes 'pipe.npy')
    Capture 'fifo image' $null { Get-WuerstchenEmbedding -ImagePath (Join-Path $pipes 'pipe.png') -Seed 1 }
    Capture 'fifo npy' $null { Import-WuerstchenEmbedding -LiteralPath (Join-Path $pipes 'pipe.npy') }
    $null = New-Item -ItemType SymbolicLink -Path (Join-Path $pipes 'zero.npy') -Target '/dev/zero'
    Capture 'dev-zero npy' $null { Import-WuerstchenEmbedding -LiteralPath (Join-Path $pipes 'zero.npy') }

    # Test-WuerstchenModel -Quiet on model folders whose files are pipes, devices or huge: one $false each
    function Break-Model([string] $Name, [string] $File, [scriptblock] $Make) {
        $m = Copy-Model $Name; $target = Join-Path $m $File
        Remove-Item -LiteralPath $target -ErrorAction Ignore
        & $Make $target
        Capture "quiet $Name" $null { Test-WuerstchenModel -ModelPath $m -Quiet -ErrorAction Stop }
        Capture "check $Name" $null { Test-WuerstchenModel -ModelPath $m }
    }
    $fifo = { param($t) mkfifo $t }
    $zero = { param($t) $null = New-Item -ItemType SymbolicLink -Path $t -Target '/dev/zero' }
    Break-Model 'index-fifo' 'model_index.json' $fifo
    Break-Model 'index-zero' 'model_index.json' $zero
    Break-Model 'vocab-fifo' 'prior_tokenizer/vocab.json' $fifo
    Break-Model 'vocab-zero' 'prior_tokenizer/vocab.json' $zero
    Break-Model 'merges-zero' 'prior_tokenizer/merges.txt' $zero
    Break-Model 'map-zero' 'prior_tokenizer/special_tokens_map.json' $zero
    Break-Model 'vocab-3gb' 'prior_tokenizer/vocab.json' { param($t) $f = [IO.File]::Create($t); $f.SetLength(3GB); $f.Dispose() } # sparse
    Break-Model 'merges-line' 'prior_tokenizer/merges.txt' { param($t) [IO.File]::WriteAllText($t, "#version: 0.2`n`e]0;pwned`a" + ('x' * 5000000) + "`n") }
}
'@
    }

    It 'the child process survives every case, in time, and its next good call works' {
        $Child.Text | Should -Not -Match 'CHILD-TIMED-OUT'
        $Child.ExitCode | Should -Be 0 -Because $Child.Text
        $Child.Text | Should -Match 'CHILD-SURVIVED'
        $Child.Cases['next good call'].Files | Should -Be @('the-next-good-call-1-0.png')
    }

    It 'Get-WuerstchenEmbedding decodes one frame of an animated GIF: the peak grows by far less than its 40 canvas-sized frames' {
        $c = $Child.Cases['gif frame bomb']
        $c | Should -Not -BeNullOrEmpty -Because $Child.Text
        $c.Errors | Should -BeNullOrEmpty
        $c.Output | Should -Be @("WuerstchenEmbedding [16,24,24] '' seed 1")
        # 40 frames of 2000×2000 RGB are 480 MB; one is 12 MB (plus the resize to 1024²)
        $c.PeakGrowth | Should -BeLessThan 150MB
    }

    It 'Get-WuerstchenEmbedding does not inflate a PNG text chunk (32 MiB of zTXt in a 33 KB file)' {
        $c = $Child.Cases['png text bomb']
        $c.Errors | Should -BeNullOrEmpty
        $c.Output | Should -Be @("WuerstchenEmbedding [16,24,24] '' seed 1")
        $c.Allocated | Should -BeLessThan 24MB
    }

    It '<Case>: one bad file is an error for that file, and the next file is read' -ForEach @(
        @{ Case = 'image wildcard'; Id = 'InvalidImageFile'; File = 'a-garbage.png' }
        @{ Case = 'npy wildcard'; Id = 'InvalidEmbeddingFile'; File = 'a-float64.npy' }
    ) {
        $c = $Child.Cases[$Case]
        $c | Should -Not -BeNullOrEmpty -Because $Child.Text
        $c.Errors.Count | Should -Be 1
        Assert-ErrorInfo $c.Errors[0] $Id 'InvalidData' @((Join-Path $Child.Work "many/$File"))
        @($c.Output).Count | Should -Be 1
        $c.Output[0] | Should -BeLike 'WuerstchenEmbedding `[16,*'
        $c.Allocated | Should -BeLessThan 64MB
    }

    It '<Case> is refused without being opened: <Id> saying it is not a regular file' -Skip:$IsWindows -ForEach @(
        @{ Case = 'fifo image'; Id = 'InvalidImageFile'; File = 'pipe.png' }
        @{ Case = 'fifo npy'; Id = 'InvalidEmbeddingFile'; File = 'pipe.npy' }
        @{ Case = 'dev-zero npy'; Id = 'InvalidEmbeddingFile'; File = 'zero.npy' }
    ) {
        $c = $Child.Cases[$Case]
        $c | Should -Not -BeNullOrEmpty -Because $Child.Text
        $c.Errors.Count | Should -Be 1
        Assert-ErrorInfo $c.Errors[0] $Id 'InvalidData' @((Join-Path $Child.Work "pipes/$File"), 'not a regular file')
        $c.Seconds | Should -BeLessThan 10
    }

    It 'Test-WuerstchenModel -Quiet gives one $false for a model folder with <Name>, and without -Quiet <Id> in a short message' -Skip:$IsWindows -ForEach @(
        @{ Name = 'index-fifo'; Id = 'InvalidModelIndex'; Says = 'not a regular file' }
        @{ Name = 'index-zero'; Id = 'InvalidModelIndex'; Says = 'not a regular file' }
        @{ Name = 'vocab-fifo'; Id = 'InvalidTokenizer'; Says = 'not a regular file' }
        @{ Name = 'vocab-zero'; Id = 'InvalidTokenizer'; Says = 'not a regular file' }
        @{ Name = 'merges-zero'; Id = 'InvalidTokenizer'; Says = 'not a regular file' }
        @{ Name = 'map-zero'; Id = 'InvalidTokenizer'; Says = 'not a regular file' }
        @{ Name = 'vocab-3gb'; Id = 'InvalidTokenizer'; Says = '3072 MiB' }
        @{ Name = 'merges-line'; Id = 'InvalidTokenizer'; Says = '\x1B]0;pwned\x07xxx' }
    ) {
        $q = $Child.Cases["quiet $Name"]
        $q | Should -Not -BeNullOrEmpty -Because $Child.Text
        $q.Errors | Should -BeNullOrEmpty
        $q.Output | Should -Be @('False')
        $q.Seconds | Should -BeLessThan 30
        $q.Allocated | Should -BeLessThan 64MB
        $c = $Child.Cases["check $Name"]
        $errors = @($c.Errors | Where-Object Id -Like "$Id,*")
        $errors.Count | Should -BeGreaterThan 0 -Because ($c.Errors | ConvertTo-Json)
        $errors[0].Message.Contains($Says) | Should -BeTrue -Because $errors[0].Message
        $errors[0].Message.Length | Should -BeLessThan 1000
        $errors[0].Message | Should -Not -Match '[\x00-\x08\x0B-\x1F\x7F]'
    }
}
