# Output formats and the image → embedding size (issue 9 points 5 and 6). Each test failed on the code before
# its fix (see the CHANGELOG): -OutputPath out.jpg made a folder, and -ImagePath clamped each side
# of a large photo on its own.

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Small = @{ Width = 128; Height = 128; Seed = 1; PriorSteps = 2; DecoderSteps = 2 }

    # the first bytes of each format: the file is what its extension says, whichever library reads it
    function Get-Magic([string] $Path) {
        $b = [IO.File]::ReadAllBytes($Path)
        if ($b[0] -eq 0xFF -and $b[1] -eq 0xD8 -and $b[2] -eq 0xFF) { return 'JPEG' }
        if ([Text.Encoding]::ASCII.GetString($b, 0, 4) -eq 'RIFF' -and [Text.Encoding]::ASCII.GetString($b, 8, 4) -eq 'WEBP') { return 'WEBP' }
        if ($b[0] -eq 0x89 -and [Text.Encoding]::ASCII.GetString($b, 1, 3) -eq 'PNG') { return 'PNG' }
        'unknown'
    }

    # a flat grey picture of the given size, written with the engine's PNG writer
    function New-Photo([string] $Name, [int] $Width, [int] $Height) {
        $path = Join-Path $TestDrive $Name
        $rgb = [byte[]]::new($Width * $Height * 3)
        [Array]::Fill($rgb, [byte] 128)
        $fs = [IO.File]::Create($path)
        try { [Wuerstchen.Core.IO.PngImage]::Write($fs, $rgb, $Width, $Height, [Collections.Generic.Dictionary[string, string]]::new(), 'BestSpeed') } finally { $fs.Dispose() }
        $path
    }
}

Describe 'The output format follows the -OutputPath extension (point 5)' {
    It '<Ext> writes <Magic> carrying the generation parameters' -ForEach @(
        @{ Ext = 'png'; Magic = 'PNG' }
        @{ Ext = 'jpg'; Magic = 'JPEG' }
        @{ Ext = 'jpeg'; Magic = 'JPEG' }
        @{ Ext = 'webp'; Magic = 'WEBP' }
        @{ Ext = 'JPG'; Magic = 'JPEG' }
    ) {
        $path = Join-Path $TestDrive "fox.$Ext"
        $f = New-WuerstchenImage 'ein Fuchs im Schnee 🦊' @Small -NegativePrompt 'blurry' -OutputPath $path
        $f | Should -BeOfType [IO.FileInfo]
        $f.FullName | Should -Be $path
        Test-Path $path -PathType Leaf | Should -BeTrue
        Get-Magic $path | Should -Be $Magic
        $p = [Wuerstchen.Core.IO.ImageFile]::ReadParameters($path)
        $p['prompt'] | Should -Be 'ein Fuchs im Schnee 🦊'
        $p['negative_prompt'] | Should -Be 'blurry'
        $p['seed'] | Should -Be '1'
        $p['width'] | Should -Be '128'
        $p['decoder_steps'] | Should -Be '2'
        [Wuerstchen.Core.IO.ImageLoader]::Identify($path).Item1 | Should -Be 128
    }

    It 'names several images out.jpg, out-1.jpg … and ConvertFrom-WuerstchenEmbedding follows the extension too' {
        $dir = Join-Path $TestDrive 'many'
        $null = New-Item -ItemType Directory $dir
        $f = New-WuerstchenImage 'a red fox' @Small -ImagesPerPrompt 2 -OutputPath (Join-Path $dir 'out.webp')
        $f.Name | Should -Be @('out.webp', 'out-1.webp')
        $f | ForEach-Object { Get-Magic $_.FullName | Should -Be 'WEBP' }
        $e = Get-WuerstchenEmbedding 'a red fox' -Width 128 -Height 128 -Seed 4 -PriorSteps 2
        $g = $e | ConvertFrom-WuerstchenEmbedding -DecoderSteps 2 -OutputPath (Join-Path $dir 'decoded.jpeg')
        $g.Name | Should -Be 'decoded.jpeg'
        Get-Magic $g.FullName | Should -Be 'JPEG'
        [Wuerstchen.Core.IO.ImageFile]::ReadParameters($g.FullName)['seed'] | Should -Be '4'
    }

    It '-Quality sets the lossy quality (smaller file at a lower quality) and is checked' {
        $lo = New-WuerstchenImage 'a red fox' @Small -Quality 5 -OutputPath (Join-Path $TestDrive 'lo.jpg')
        $hi = New-WuerstchenImage 'a red fox' @Small -Quality 100 -OutputPath (Join-Path $TestDrive 'hi.jpg')
        $lo.Length | Should -BeLessThan $hi.Length
        { New-WuerstchenImage 'a red fox' @Small -Quality 0 -OutputPath (Join-Path $TestDrive 'q0.jpg') } | Should -Throw -ErrorId 'ValueOutOfRange*'
        { New-WuerstchenImage 'a red fox' @Small -Quality 101 -OutputPath (Join-Path $TestDrive 'q101.jpg') } | Should -Throw -ErrorId 'ValueOutOfRange*'
    }

    It 'an image extension it cannot write (<_>) is UnsupportedImageFormat naming the supported ones; nothing on disk' -ForEach @('gif', 'bmp', 'tiff', 'jpgg') {
        $path = Join-Path $TestDrive "out.$_"
        $r = Invoke-Capture { New-WuerstchenImage 'a red fox' @Small -OutputPath $path }
        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'UnsupportedImageFormat,*'
        "$($r.Errors[0].CategoryInfo.Category)" | Should -Be 'InvalidArgument'
        $r.Errors[0].TargetObject | Should -Be $path
        "$($r.Errors[0])" | Should -Match '\.png.*\.jpg.*\.jpeg.*\.webp'
        Test-Path $path | Should -BeFalse
        $e = Get-WuerstchenEmbedding 'a red fox' -Width 128 -Height 128 -Seed 4 -PriorSteps 2
        $r = Invoke-Capture { $e | ConvertFrom-WuerstchenEmbedding -DecoderSteps 2 -OutputPath $path }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'UnsupportedImageFormat,*'
        Test-Path $path | Should -BeFalse
    }

    It 'a folder path still gets PNG files with readable names (an existing folder whatever its name)' {
        $dir = Join-Path $TestDrive 'run.v2'
        $null = New-Item -ItemType Directory $dir
        $f = New-WuerstchenImage 'a red fox' @Small -OutputPath $dir
        Test-Path $dir -PathType Container | Should -BeTrue
        $f.Name | Should -Be 'a-red-fox-1-0.png'
        Get-Magic $f.FullName | Should -Be 'PNG'
    }
}

Describe 'One version' {
    It 'the Software text of an image names the manifest''s ModuleVersion (the assemblies take it from the manifest)' {
        $f = New-WuerstchenImage 'a red fox' @Small -OutputPath (Join-Path $TestDrive 'version.png')
        $version = (Import-PowerShellDataFile (Join-Path $ModulePath 'Wuerstchen.psd1')).ModuleVersion
        [Wuerstchen.Core.IO.ImageFile]::ReadParameters($f.FullName)['Software'] | Should -Be "Wuerstchen.PowerShell $version"
    }
}

Describe 'The image → embedding size keeps the aspect ratio (point 6)' {
    It 'a 6000×4000 photo is encoded at 1152×768 (3:2, about 1024² pixels), without a warning' {
        $photo = New-Photo 'big.png' 6000 4000
        $r = Invoke-Capture { Get-WuerstchenEmbedding -ImagePath $photo -Seed 1 }
        $r.Errors | Should -BeNullOrEmpty
        $r.Output[0].Width | Should -Be 1152
        $r.Output[0].Height | Should -Be 768
        $r.Output[0].Shape | Should -Be @(16, 18, 27)
        $r.Warnings | Should -BeNullOrEmpty
    }

    It 'a small picture is encoded near the training area too, and a portrait stays a portrait' {
        $e = Get-WuerstchenEmbedding -ImagePath (New-Photo 'portrait.png' 200 300) -Seed 1
        $e.Width | Should -Be 768
        $e.Height | Should -Be 1152
    }

    It 'warns when more than 6 % is cropped, naming the share' {
        $r = Invoke-Capture { Get-WuerstchenEmbedding -ImagePath (New-Photo 'pano.png' 2000 200) -Seed 1 }
        $r.Output.Count | Should -Be 1
        $r.Warnings.Count | Should -Be 1
        $r.Warnings[0] | Should -Match '\d+ ?% .*cropped'
    }

    It 'respects -Width and -Height, warning on a large crop' {
        $photo = New-Photo 'three-two.png' 600 400
        $r = Invoke-Capture { Get-WuerstchenEmbedding -ImagePath $photo -Width 1024 -Height 1024 -Seed 1 }
        $r.Output[0].Width | Should -Be 1024
        $r.Output[0].Height | Should -Be 1024
        $r.Warnings.Count | Should -Be 1
        $r.Warnings[0] | Should -Match '33 ?%'
        $r = Invoke-Capture { Get-WuerstchenEmbedding -ImagePath $photo -Width 768 -Seed 1 }
        $r.Output[0].Height | Should -Be 512 # the other side from the aspect ratio
        $r.Warnings | Should -BeNullOrEmpty
    }
}
