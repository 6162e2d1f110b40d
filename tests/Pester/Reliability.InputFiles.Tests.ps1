# Reliability matrix, input files: bad images and embedding files (in a child process).
# What every case asserts, and the shared helpers: Reliability.Common.ps1.

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'Reliability.Common.ps1')
}

Describe 'Bad input images and embedding files (in a child process)' {
    BeforeAll {
        # a decompression bomb's header (IHDR claims 100000×100000, CRCs correct), built before the child reads it
        $script:InputDir = Join-Path $TestDrive 'inputs/in'
        $null = New-Item -ItemType Directory -Force $InputDir
        New-PngHeaderOnly (Join-Path $InputDir 'bomb.png') 100000 100000
        $script:Child = Invoke-ChildCases 'inputs' @'
$in = Join-Path $Work 'in'; $null = New-Item -ItemType Directory -Force $in
$good = New-WuerstchenImage 'source' -Width 256 -Height 256 -Seed 3 -PriorSteps 2 -DecoderSteps 2 -OutputPath (Join-Path $in 'good.png')
[IO.File]::WriteAllBytes((Join-Path $in 'garbage.png'), [byte[]] (1..5000 | ForEach-Object { ($_ * 131 + 7) % 256 }))
$bytes = [IO.File]::ReadAllBytes($good.FullName)
[IO.File]::WriteAllBytes((Join-Path $in 'truncated.png'), $bytes[0..([int]($bytes.Length / 2))])
Capture 'garbage image' $null { Get-WuerstchenEmbedding -ImagePath (Join-Path $in 'garbage.png') -Seed 1 }
Capture 'truncated image' $null { Get-WuerstchenEmbedding -ImagePath (Join-Path $in 'truncated.png') -Seed 1 }
Capture 'bomb image' $null { Get-WuerstchenEmbedding -ImagePath (Join-Path $in 'bomb.png') -Seed 1 }
Capture 'missing image' $null { Get-WuerstchenEmbedding -ImagePath (Join-Path $in 'none.png') -Seed 1 }
Capture 'good image' $null { Get-WuerstchenEmbedding -ImagePath $good.FullName -Seed 1 }

function New-Npy([string] $Name, [string] $Header, [int] $DataBytes, [byte] $Major = 1, [Nullable[uint32]] $ClaimedLength = $null) {
    $h = $Header + (' ' * (63 - ($Header.Length + 10) % 64)) + "`n"
    $hb = [Text.Encoding]::ASCII.GetBytes($h)
    $len = if ($Major -eq 1) { [BitConverter]::GetBytes([uint16] $hb.Length) } else { [BitConverter]::GetBytes([uint32] $(if ($null -ne $ClaimedLength) { $ClaimedLength } else { $hb.Length })) }
    $all = [byte[]] (0x93) + [Text.Encoding]::ASCII.GetBytes('NUMPY') + [byte[]] ($Major, 0) + $len + $hb + [byte[]]::new($DataBytes)
    [IO.File]::WriteAllBytes((Join-Path $in $Name), [byte[]] $all)
}
[IO.File]::WriteAllText((Join-Path $in 'text.npy'), 'this is not a numpy file')
New-Npy 'huge-header.npy' "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 16, 3, 3), }" 576 -Major 2 -ClaimedLength 0x7FFFFFFF
New-Npy 'huge-shape.npy' "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 16, 512, 512), }" 64
New-Npy 'large-shape.npy' "{'descr': '<f4', 'fortran_order': False, 'shape': (60, 16, 512, 512), }" 64
New-Npy 'truncated.npy' "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 16, 24, 24), }" 64
New-Npy 'int64.npy' "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 16, 3, 3), }" 1152
New-Npy 'fortran.npy' "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 16, 3, 3), }" 576
New-Npy 'channels.npy' "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4, 3, 3), }" 144
New-Npy 'no-rows.npy' "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 16, 3, 3), }" 0
New-Npy 'no-shape.npy' "{'descr': '<f4', 'fortran_order': False, }" 0
New-Npy 'good.npy' "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 16, 3, 3), }" 576
New-Npy 'bad-sidecar.npy' "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 16, 3, 3), }" 576
Set-Content (Join-Path $in 'bad-sidecar.json') '{ "format": "wuerstchen-embeddings", "embeddings": [ '
foreach ($n in 'text', 'huge-header', 'huge-shape', 'large-shape', 'truncated', 'int64', 'fortran', 'channels', 'no-rows', 'no-shape', 'bad-sidecar', 'good') {
    Capture "npy $n" $null { Import-WuerstchenEmbedding (Join-Path $in "$n.npy") }
}
'@
    }

    It 'the child process survives every case and its next good call works' {
        $Child.ExitCode | Should -Be 0 -Because $Child.Text
        $Child.Text | Should -Match 'CHILD-SURVIVED'
        $Child.Cases['next good call'].Files | Should -Be @('the-next-good-call-1-0.png')
        Assert-NextCallWorks
    }

    It 'Get-WuerstchenEmbedding -ImagePath rejects a <Case> with <Id>' -ForEach @(
        @{ Case = 'garbage image'; File = 'garbage.png'; Id = 'InvalidImageFile'; Category = 'InvalidData'; Names = @() }
        @{ Case = 'truncated image'; File = 'truncated.png'; Id = 'InvalidImageFile'; Category = 'InvalidData'; Names = @() }
        @{ Case = 'bomb image'; File = 'bomb.png'; Id = 'ImageTooLarge'; Category = 'InvalidData'; Names = @('100000×100000') }
        @{ Case = 'missing image'; File = 'none.png'; Id = 'ImageFileNotFound'; Category = 'ObjectNotFound'; Names = @() }
    ) {
        $c = $Child.Cases[$Case]
        $c | Should -Not -BeNullOrEmpty -Because $Child.Text
        $c.Errors.Count | Should -Be 1
        $c.Output | Should -BeNullOrEmpty
        Assert-ErrorInfo $c.Errors[0] $Id $Category (@((Join-Path $InputDir $File)) + $Names)
        # header-only checks: nothing near the claimed size is allocated
        $c.Allocated | Should -BeLessThan 64MB
    }

    It 'the decompression bomb has a valid header claiming 100000×100000, and is rejected in this process too' {
        $bomb = Join-Path $InputDir 'bomb.png'
        $null = [Wuerstchen.Core.IO.PngImage]::ReadText($bomb) # parses the header (and loads ImageSharp)
        # ImageSharp lives in the module's own AssemblyLoadContext (hidden from type literals): reach it through the engine's context
        $imageSharp = [Runtime.Loader.AssemblyLoadContext]::GetLoadContext([Wuerstchen.Core.IO.PngImage].Assembly).Assemblies | Where-Object { $_.GetName().Name -eq 'SixLabors.ImageSharp' }
        $info = $imageSharp.GetType('SixLabors.ImageSharp.Image', $true)::Identify($bomb)
        $info.Width | Should -Be 100000
        $info.Height | Should -Be 100000
        $before = [GC]::GetTotalAllocatedBytes($true)
        $r = Invoke-Capture { Get-WuerstchenEmbedding -ImagePath $bomb -Seed 1 }
        ([GC]::GetTotalAllocatedBytes($true) - $before) | Should -BeLessThan 64MB
        $r.Errors.Count | Should -Be 1
        Assert-WuerstchenError $r.Errors[0] 'ImageTooLarge' 'InvalidData' @($bomb, '100000×100000')
        Assert-NextCallWorks
    }

    It 'Get-WuerstchenEmbedding -ImagePath works on a good image in the same child' {
        $c = $Child.Cases['good image']
        $c.Errors | Should -BeNullOrEmpty
        $c.Output | Should -Be @("WuerstchenEmbedding [16,24,24] '' seed 1") # 256×256 is encoded at 1024×1024 (ImageFit)
    }

    It 'Import-WuerstchenEmbedding rejects <File> with InvalidEmbeddingFile naming <Names>' -ForEach @(
        @{ File = 'text.npy'; Names = @('magic') }
        @{ File = 'huge-header.npy'; Names = @('2147483647') }
        @{ File = 'huge-shape.npy'; Names = @('100000, 16, 512, 512') }
        @{ File = 'large-shape.npy'; Names = @('truncated', '1006632960') }
        @{ File = 'truncated.npy'; Names = @('truncated', '36864', '64 remain') }
        @{ File = 'int64.npy'; Names = @("'<i8'") }
        @{ File = 'fortran.npy'; Names = @('Fortran') }
        @{ File = 'channels.npy'; Names = @('(1, 4, 3, 3)', '[N,16,h,w]') }
        @{ File = 'no-rows.npy'; Names = @('(0, 16, 3, 3)') }
        @{ File = 'no-shape.npy'; Names = @('malformed') }
        @{ File = 'bad-sidecar.npy'; Names = @('bad-sidecar.json') }
    ) {
        $c = $Child.Cases["npy $($File -replace '\.npy$')"]
        $c | Should -Not -BeNullOrEmpty -Because $Child.Text
        $c.Errors.Count | Should -Be 1
        $c.Output | Should -BeNullOrEmpty
        $path = Join-Path $InputDir $File
        if ($File -eq 'bad-sidecar.npy') { $path = [IO.Path]::ChangeExtension($path, '.json') }
        Assert-ErrorInfo $c.Errors[0] 'InvalidEmbeddingFile' 'InvalidData' (@($path) + $Names)
        # validated before anything large is allocated (the header claims up to 2 GiB or 400 GiB of floats)
        $c.Allocated | Should -BeLessThan 16MB
    }

    It 'Import-WuerstchenEmbedding reads a good file in the same child' {
        $c = $Child.Cases['npy good']
        $c.Errors | Should -BeNullOrEmpty
        $c.Output | Should -Be @("WuerstchenEmbedding [16,3,3] '' seed 0")
    }
}

Describe 'Control characters in a file name are shown in messages, never sent to the terminal' {
    BeforeAll {
        # ESC ] 0 ; … BEL sets a terminal's title, ESC [ 2 J clears its screen: a shared file name can carry them
        $script:Evil = "evil`e]0;pwned`a`e[2J"
        $script:EvilDir = Join-Path $TestDrive 'evil'
        $null = New-Item -ItemType Directory -Force $EvilDir
        $script:Garbage = [byte[]] (1..512 | ForEach-Object { ($_ * 131 + 7) % 256 })
        foreach ($ext in 'npy', 'png') { [IO.File]::WriteAllBytes((Join-Path $EvilDir "$Evil.$ext"), $Garbage) }
    }

    It '<Command> on <Case>: <Id>, the name''s escapes shown as \x1B' -ForEach @(
        @{ Command = 'Import-WuerstchenEmbedding'; Case = 'a garbage .npy'; Id = 'InvalidEmbeddingFile'; Run = { Import-WuerstchenEmbedding -LiteralPath (Join-Path $EvilDir "$Evil.npy") } }
        @{ Command = 'Get-WuerstchenEmbedding'; Case = 'a garbage image'; Id = 'InvalidImageFile'; Run = { Get-WuerstchenEmbedding -ImagePath ([WildcardPattern]::Escape((Join-Path $EvilDir "$Evil.png"))) -Seed 1 } }
        # its '[' without a ']' is no wildcard pattern: WuerstchenUnexpectedError (PowerShell's WildcardPatternException) before
        @{ Command = 'Get-WuerstchenEmbedding'; Case = 'the name as a wildcard'; Id = 'InvalidWildcard'; Run = { Get-WuerstchenEmbedding -ImagePath (Join-Path $EvilDir "$Evil.png") -Seed 1 } }
        @{ Command = 'Get-WuerstchenImageInfo'; Case = 'a garbage image'; Id = 'InvalidImageFile'; Run = { Get-WuerstchenImageInfo -LiteralPath (Join-Path $EvilDir "$Evil.png") } }
        @{ Command = 'New-WuerstchenImage'; Case = 'a missing model folder'; Id = 'ModelNotFound'; Run = { New-WuerstchenImage 'x' @Small -ModelPath (Join-Path $EvilDir $Evil) -OutputPath (Join-Path $EvilDir 'out') } }
        @{ Command = 'Test-WuerstchenModel'; Case = 'a missing model folder'; Id = 'ModelNotFound'; Run = { Test-WuerstchenModel -ModelPath (Join-Path $EvilDir $Evil) } }
        @{ Command = 'New-WuerstchenImage'; Case = 'an output name ending .gif'; Id = 'UnsupportedImageFormat'; Run = { New-WuerstchenImage 'x' @Small -OutputPath (Join-Path $EvilDir "$Evil.gif") } }
        @{ Command = 'Export-WuerstchenEmbedding'; Case = 'a .txt name'; Id = 'UnsupportedEmbeddingFormat'; Run = { [pscustomobject]@{ Shape = 16, 3, 3; Data = [float[]]::new(144) } | Export-WuerstchenEmbedding -Path (Join-Path $EvilDir "$Evil.txt") } }
    ) {
        $r = Invoke-Capture $Run
        $r.Errors.Count | Should -Be 1
        $info = ConvertTo-ErrorInfo $r.Errors[0]
        Assert-ErrorInfo $info $Id $r.Errors[0].CategoryInfo.Category.ToString() @('evil\x1B]0;pwned\x07\x1B[2J')
        $info.Message.IndexOfAny([char[]] @([char] 27, [char] 7)) | Should -Be -1
        "$($r.Errors[0].CategoryInfo)".IndexOfAny([char[]] @([char] 27, [char] 7)) | Should -Be -1 # the NormalView line names the target
    }
}
