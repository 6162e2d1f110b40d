# Reliability matrix, requests (issue 21, "bounded by construction"): what one call may ask for — its memory, the size
# an embedding decodes to, a timestep list, the model's constants, file names — is bounded whichever door it comes
# through; embedding pairs and temporary files survive a killed run; the session cache follows symbolic links.
# What every case asserts, and the shared helpers: Reliability.Common.ps1.

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'Reliability.Common.ps1')

    function New-Folder([string] $Name) {
        Join-Path $TestDrive ($Name + '-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    }

    # float32 .npy of the given shape (zeros): what numpy.save writes
    function New-Npy([string] $Path, [int[]] $Shape) {
        $header = "{'descr': '<f4', 'fortran_order': False, 'shape': ($(($Shape -join ', ') + $(if ($Shape.Count -eq 1) { ',' }))), }"
        $header = $header.PadRight(117) + "`n" # 10 + 118 bytes: the data starts 64-aligned
        $count = 1; foreach ($d in $Shape) { $count *= $d }
        $bytes = [byte[]] (0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, 118, 0) + [Text.Encoding]::ASCII.GetBytes($header)
        $null = New-Item -ItemType Directory -Force (Split-Path $Path)
        [IO.File]::WriteAllBytes($Path, $bytes + [byte[]]::new(4 * $count))
    }

    # an 8-bit RGB PNG of one colour, written by hand (ImageSharp lives in the module's own load context)
    function New-SolidPng([string] $Path, [int] $Width, [int] $Height) {
        $row = [byte[]]::new(1 + 3 * $Width)
        for ($x = 0; $x -lt $Width; $x++) { $row[1 + 3 * $x] = 200; $row[2 + 3 * $x] = 100; $row[3 + 3 * $x] = 50 }
        $raw = [IO.MemoryStream]::new()
        $z = [IO.Compression.ZLibStream]::new($raw, [IO.Compression.CompressionLevel]::Optimal, $true)
        for ($y = 0; $y -lt $Height; $y++) { $z.Write($row, 0, $row.Length) }
        $z.Dispose()
        $ihdr = (Get-BigEndian ([uint32] $Width)) + (Get-BigEndian ([uint32] $Height)) + [byte[]] (8, 2, 0, 0, 0)
        $png = [byte[]] (0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A) + (Get-PngChunk 'IHDR' $ihdr) + (Get-PngChunk 'IDAT' $raw.ToArray()) + (Get-PngChunk 'IEND' ([byte[]]@()))
        $null = New-Item -ItemType Directory -Force (Split-Path $Path)
        [IO.File]::WriteAllBytes($Path, $png)
    }
}

Describe 'Memory of one call (point 5)' {
    It '<Command>: 256 prompts x 64 images at 4096² is BatchTooLarge up front, naming the estimate and what to lower' -ForEach @(
        @{ Command = 'New-WuerstchenImage' }
        @{ Command = 'Get-WuerstchenEmbedding' }
    ) {
        $dir = New-Folder 'batch'
        $prompts = 1..256 | ForEach-Object { "prompt $_" }
        $p = @{ Prompt = $prompts; ImagesPerPrompt = 64; Width = 4096; Height = 4096; Seed = 1; PriorSteps = 2 }
        if ($Command -eq 'New-WuerstchenImage') { $p.OutputPath = $dir; $p.DecoderSteps = 2 }
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $r = Invoke-Capture { & $Command @p }
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 10
        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'BatchTooLarge' 'InvalidArgument' @('16384 images', '4096×4096', 'GiB', '-ImagesPerPrompt', '-Width/-Height')
        Assert-NothingWritten $dir
        Assert-NextCallWorks
    }

    It 'New-WuerstchenImage writes each image before the next is decoded: stopped in the VQGAN, the images before are on disk' {
        $dir = New-Folder 'stream'
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddCommand('Import-Module').AddParameter('Name', (Join-Path $ModulePath 'Wuerstchen.psd1')).AddStatement()
            $null = $ps.AddCommand('New-WuerstchenImage').AddParameters(@{ Prompt = 'stream'; Width = 1024; Height = 1024; ImagesPerPrompt = 8; Seed = 1; PriorSteps = 2; DecoderSteps = 1 }).
                AddParameter('OutputPath', $dir).AddParameter('ExecutionProvider', 'Cpu').AddParameter('ModelPath', $Models)
            $handle = $ps.BeginInvoke()
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $done = 0
            while ($done -lt 4 -and -not $handle.IsCompleted -and $clock.Elapsed.TotalSeconds -lt 60) {
                foreach ($record in @($ps.Streams.Progress)) {
                    if ($record.StatusDescription -match '^VQGAN step (\d+) of') { $done = [Math]::Max($done, [int] $Matches[1]) }
                }
                Start-Sleep -Milliseconds 5
            }
            $done | Should -BeGreaterOrEqual 4
            # images 1-3 were yielded and written before the VQGAN reported image 4 (the cmdlet writes on the engine's thread)
            $written = @(Get-ChildItem -LiteralPath $dir -Filter *.png)
            $ps.Stop()
            $written.Count | Should -BeGreaterOrEqual 3
            foreach ($f in $written) { (Get-Rgb $f.FullName).Width | Should -Be 1024 }
            Assert-NoTemporaryFile $dir
        }
        finally { $ps.Dispose() }
        Assert-NextCallWorks
    }
}

Describe 'Limits a second door bypassed (point 6)' {
    It 'ConvertFrom-WuerstchenEmbedding refuses an imported 16×150×150 .npy (6400×6400) with InvalidImageSize' {
        $npy = Join-Path (New-Folder 'npy') 'big.npy'
        New-Npy $npy @(1, 16, 150, 150)
        $dir = New-Folder 'big-out'
        $r = Invoke-Capture { Import-WuerstchenEmbedding -Path $npy | ConvertFrom-WuerstchenEmbedding -DecoderSteps 2 -OutputPath $dir }
        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'InvalidImageSize' 'InvalidArgument' @('150×150', '6400×6400', '4096')
        Assert-NothingWritten $dir
        Assert-NextCallWorks
    }

    It '-PriorTimesteps of 20,001 values (<Case>) is InvalidTimesteps, as 1001 steps are' -ForEach @(
        @{ Case = 'an array'; AsText = $false }
        @{ Case = 'CSV text'; AsText = $true }
    ) {
        $values = 0..20000 | ForEach-Object { 1 - $_ / 20000 }
        $list = if ($AsText) { ($values | ForEach-Object { $_.ToString([cultureinfo]::InvariantCulture) }) -join ',' } else { [float[]] $values }
        $dir = New-Folder 'ts'
        $r = Invoke-Capture { [pscustomobject]@{ Prompt = 'a cat'; PriorTimesteps = $list } | New-WuerstchenImage -Width 128 -Height 128 -OutputPath $dir -WhatIf }
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'InvalidTimesteps' 'InvalidArgument' @('PriorTimesteps', '20001 values', '1000 steps')
        Assert-NothingWritten $dir
    }

    It '-PriorTimesteps as one text of 4 million values is InvalidTimesteps counted before it is split (<Case>)' -ForEach @(
        @{ Case = 'command line' }
        @{ Case = 'CSV cell' }
    ) {
        $text = '0.5,' * 4000000 # 16 MB: split, it was 4 million strings and floats before the cap
        $dir = New-Folder 'ts-text'
        [GC]::Collect()
        $before = [GC]::GetTotalAllocatedBytes($true)
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $r = if ($Case -eq 'CSV cell') { Invoke-Capture { [pscustomobject]@{ Prompt = 'a cat'; PriorTimesteps = $text } | New-WuerstchenImage -Width 128 -Height 128 -OutputPath $dir -WhatIf } }
        else { Invoke-Capture { New-WuerstchenImage 'a cat' -Width 128 -Height 128 -PriorTimesteps $text -OutputPath $dir -WhatIf } }
        $allocated = [GC]::GetTotalAllocatedBytes($true) - $before
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'InvalidTimesteps' 'InvalidArgument' @('PriorTimesteps', '4000000 values', '1000 steps')
        $allocated | Should -BeLessThan 100MB # 400 MB before
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 5
        Assert-NothingWritten $dir
    }

    It 'model_index.json <Json> is InvalidModelIndex for Test-WuerstchenModel and New-WuerstchenImage' -ForEach @(
        @{ Json = '{"resolution_multiple": 1e-300}'; Key = 'resolution_multiple' }
        @{ Json = '{"latent_dim_scale": 1e300}'; Key = 'latent_dim_scale' }
    ) {
        $model = New-Folder 'index'
        Copy-Item -LiteralPath $Models -Destination $model -Recurse
        Set-Content -LiteralPath (Join-Path $model 'model_index.json') -Value $Json -NoNewline
        Test-WuerstchenModel -ModelPath $model -Quiet -WarningAction SilentlyContinue | Should -BeFalse
        $dir = New-Folder 'index-out'
        $r = Invoke-Capture { New-WuerstchenImage 'a cat' @Small -ModelPath $model -OutputPath $dir }
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'InvalidModelIndex,*'
        $r.Errors[0].Exception.Message | Should -BeLike "*'$Key'*"
        Assert-NothingWritten $dir
    }
}

Describe 'Embedding pairs and temporary files (point 8)' {
    It 'Import-WuerstchenEmbedding refuses a sidecar left beside other data (a crash between the renames of a -Force re-export)' {
        $dir = New-Folder 'pair'
        $null = New-Item -ItemType Directory $dir
        Get-WuerstchenEmbedding 'old prompt' -Width 128 -Height 128 -Seed 1 -PriorSteps 2 | Export-WuerstchenEmbedding -Path (Join-Path $dir 'x.npy')
        Get-WuerstchenEmbedding 'new prompt' -Width 128 -Height 128 -Seed 2 -PriorSteps 2 | Export-WuerstchenEmbedding -Path (Join-Path $dir 'y.npy')
        Copy-Item (Join-Path $dir 'y.json') (Join-Path $dir 'x.json') -Force # the new sidecar renamed into place, the .npy not yet
        $r = Invoke-Capture { Import-WuerstchenEmbedding -Path (Join-Path $dir 'x.npy') }
        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'InvalidEmbeddingFile' 'InvalidData' @('x.json', 'other data')
    }

    It 'two runspaces re-exporting to one name with -Force always leave a pair that belongs together' {
        $dir = New-Folder 'race'
        $null = New-Item -ItemType Directory $dir
        $target = Join-Path $dir 'race.npy'
        $module = Join-Path $ModulePath 'Wuerstchen.psd1'
        $embeddings = foreach ($seed in 1, 2) { Get-WuerstchenEmbedding "writer $seed" -Width 128 -Height 128 -Seed $seed -PriorSteps 2 }
        $embeddings | ForEach-Object -ThrottleLimit 2 -Parallel {
            Import-Module $using:module
            foreach ($i in 1..15) { $_ | Export-WuerstchenEmbedding -Path $using:target -Force }
        }
        $back = Import-WuerstchenEmbedding -Path $target
        $writer = $embeddings | Where-Object Prompt -EQ $back.Prompt
        $writer | Should -Not -BeNullOrEmpty
        [float[]] $back.Data | Should -Be ([float[]] $writer.Data)
        Assert-NoTemporaryFile $dir
    }

    It 'a killed run''s stale temporary file is removed by the next write into the folder; another writer''s fresh one is kept' {
        $dir = New-Folder 'stale'
        $null = New-Item -ItemType Directory $dir
        $stale = Join-Path $dir '.cat-1-0.png.0123abcd.tmp'
        Set-Content -LiteralPath $stale -Value 'half an image'
        (Get-Item -LiteralPath $stale -Force).LastWriteTimeUtc = [datetime]::UtcNow.AddHours(-3)
        $fresh = Join-Path $dir '.dog-1-0.png.89abcdef.tmp'
        Set-Content -LiteralPath $fresh -Value 'being written'
        $f = New-WuerstchenImage 'a cat' @Small -OutputPath $dir
        @($f).Count | Should -Be 1
        Test-Path -LiteralPath $stale | Should -BeFalse
        Test-Path -LiteralPath $fresh | Should -BeTrue
    }
}

Describe 'Session cache by target (point 9)' {
    It 'Test-WuerstchenModel measures a symlinked network file (Hugging Face cache layout) by its target' -Skip:$IsWindows {
        $model = New-Folder 'hf'
        Copy-Item -LiteralPath $Models -Destination $model -Recurse
        $blob = Join-Path (New-Folder 'blobs') 'vqgan-blob'
        $null = New-Item -ItemType Directory (Split-Path $blob)
        Move-Item (Join-Path $model 'vqgan/model.onnx') $blob
        $null = New-Item -ItemType SymbolicLink -Path (Join-Path $model 'vqgan/model.onnx') -Target $blob
        $r = Test-WuerstchenModel -ModelPath $model -WarningAction SilentlyContinue | Where-Object Stage -EQ 'Vqgan'
        $r.SizeBytes | Should -Be (Get-Item $blob).Length
    }
}

Describe 'The smaller ones (point 11)' {
    It 'New-WuerstchenImage writes a legal 250-character file name' {
        $dir = New-Folder 'long'
        $null = New-Item -ItemType Directory $dir
        $name = ('a' * 246) + '.png'
        $f = New-WuerstchenImage 'a cat' @Small -OutputPath (Join-Path $dir $name)
        $f.Name | Should -Be $name
        Assert-NoTemporaryFile $dir
    }

    It "-OutputPath '   ' means not given (docs/parameters.md) and creates no folder of three spaces" {
        $dir = New-Folder 'blank'
        $null = New-Item -ItemType Directory $dir
        Push-Location $dir
        try { $r = Invoke-Capture { New-WuerstchenImage 'a cat' @Small -OutputPath '   ' } }
        finally { Pop-Location }
        $r.Errors.Count | Should -Be 0
        @($r.Output).Count | Should -Be 1
        Split-Path $r.Output[0].FullName | Should -Be (Get-Item $dir).FullName # the current location, as without -OutputPath
        Get-ChildItem -LiteralPath $dir -Directory | Should -BeNullOrEmpty
    }

    It 'a prompt holding NUL is InvalidPrompt (a PNG text chunk cannot carry it)' {
        $dir = New-Folder 'nul'
        $r = Invoke-Capture { New-WuerstchenImage "a cat`0with a hat" @Small -OutputPath $dir }
        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'InvalidPrompt' 'InvalidArgument' @('NUL', 'position 6')
        Assert-NothingWritten $dir
    }

    It 'Get-WuerstchenEmbedding -ImagePath of a 1×16384 strip takes seconds, at its own size and at -Width/-Height <Size>' -ForEach @(
        @{ Size = 0 }
        @{ Size = 1024 }
    ) {
        $png = Join-Path (New-Folder 'strip') 'strip.png'
        New-SolidPng $png 1 16384
        $p = @{ ImagePath = $png; Seed = 1 }
        if ($Size) { $p.Width = $Size; $p.Height = $Size }
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $e = Get-WuerstchenEmbedding @p -WarningAction SilentlyContinue
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 5
        $e.Shape[0] | Should -Be 16
    }
}
