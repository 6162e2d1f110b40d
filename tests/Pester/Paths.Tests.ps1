# Issue 9 points 10 and 11: ordinary mistakes get specific errors (no WuerstchenUnexpectedError), and paths behave as
# PowerShell users expect (wildcards, -LiteralPath, folders, positional binding that the help shows). Each test failed
# on the code before the fix.

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Small = @{ Width = 128; Height = 128; Seed = 1; PriorSteps = 1; DecoderSteps = 1 }
    function Assert-Error($Err, [string] $Id, [string] $Category, $Target) {
        $Err | Should -Not -BeNullOrEmpty
        $Err.FullyQualifiedErrorId | Should -BeLike "$Id,*"
        "$($Err.CategoryInfo.Category)" | Should -Be $Category
        if ($PSBoundParameters.ContainsKey('Target')) { $Err.TargetObject | Should -Be $Target }
    }
    # a drive letter no PSDrive uses
    $script:NoDrive = [char[]]'QWXYZVUTSRPONMLKJIHG' | Where-Object { -not (Get-PSDrive -Name $_ -ErrorAction Ignore) } | Select-Object -First 1
    $script:Embedding = Get-WuerstchenEmbedding 'a fox' -Width 128 -Height 128 -Seed 1 -PriorSteps 1
}

Describe 'Ordinary mistakes have their own error id (point 10)' {
    It '-OutputPath on a drive that does not exist is DriveNotFound' {
        $err = $null
        try { New-WuerstchenImage 'a fox' @Small -OutputPath "${NoDrive}:/sub" -ErrorAction Stop } catch { $err = $_ }
        Assert-Error $err 'DriveNotFound' 'ObjectNotFound' "${NoDrive}:/sub"
        "$err" | Should -Match 'Get-PSDrive'
    }

    It '-OutputPath Env:/x is an error, and nothing is written into the start folder' {
        $start = [Environment]::CurrentDirectory
        $before = @(Get-ChildItem -LiteralPath $start -Filter 'a-fox-*').Count
        $err = $null
        try { New-WuerstchenImage 'a fox' @Small -OutputPath 'Env:/x' -ErrorAction Stop } catch { $err = $_ }
        Assert-Error $err 'PathNotFileSystem' 'InvalidArgument' 'Env:/x'
        @(Get-ChildItem -LiteralPath $start -Filter 'a-fox-*').Count | Should -Be $before
        $err = $null
        try { $Embedding | ConvertFrom-WuerstchenEmbedding -OutputPath 'Env:/y' -ErrorAction Stop } catch { $err = $_ }
        Assert-Error $err 'PathNotFileSystem' 'InvalidArgument' 'Env:/y'
    }

    It 'exporting an embedding whose data length does not match its shape is EmbeddingShapeMismatch, nothing on disk' {
        $bad = [pscustomobject]@{ Prompt = 'bad'; Shape = [int[]](16, 6, 6); Data = [float[]]::new(100) }
        $npy = Join-Path $TestDrive 'bad.npy'
        $err = $null
        try { $bad | Export-WuerstchenEmbedding -Path $npy -ErrorAction Stop } catch { $err = $_ }
        Assert-Error $err 'EmbeddingShapeMismatch' 'InvalidArgument'
        $err.TargetObject.Prompt | Should -Be 'bad'
        "$err" | Should -Match '100 values'
        Test-Path $npy | Should -BeFalse
    }

    It 'a hand-built embedding with Shape = $null is EmbeddingShapeMissing for <_>' -ForEach @('Export', 'ConvertFrom') {
        $bad = [Wuerstchen.Core.WuerstchenEmbedding]@{ Prompt = 'no shape'; Shape = $null; Data = [float[]]::new(16) }
        $err = $null
        $dir = Join-Path $TestDrive "noshape-$_"
        try {
            if ($_ -eq 'Export') { $bad | Export-WuerstchenEmbedding -Path "$dir.npy" -ErrorAction Stop }
            else { $bad | ConvertFrom-WuerstchenEmbedding -OutputPath $dir -ErrorAction Stop }
        }
        catch { $err = $_ }
        Assert-Error $err 'EmbeddingShapeMissing' 'InvalidArgument'
        $err.TargetObject.Prompt | Should -Be 'no shape'
        Test-Path "$dir*" | Should -BeFalse
    }
}

Describe 'Paths as PowerShell users expect (point 11)' {
    BeforeAll {
        $script:Photos = Join-Path $TestDrive 'photos'
        $null = New-Item -ItemType Directory $Photos
        Copy-Item (Join-Path $PSScriptRoot 'data/noise.png') (Join-Path $Photos 'a.png')
        Copy-Item (Join-Path $PSScriptRoot 'data/noise.png') (Join-Path $Photos 'b.png')
        Copy-Item (Join-Path $PSScriptRoot 'data/noise.png') (Join-Path $Photos 'c[1].png')
    }

    It '-ImagePath expands wildcards; -LiteralPath takes brackets as written' {
        $e = @(Get-WuerstchenEmbedding -ImagePath (Join-Path $Photos '[ab].png') -Width 128 -Height 128 -Seed 1)
        $e.Count | Should -Be 2
        $e.Source | Should -Be @('image:a.png', 'image:b.png') # the file's name, not its folder
        $l = @(Get-WuerstchenEmbedding -LiteralPath (Join-Path $Photos 'c[1].png') -Width 128 -Height 128 -Seed 1)
        $l.Count | Should -Be 1
        $l[0].Source | Should -Be 'image:c[1].png'
        # Get-ChildItem's output binds to -LiteralPath by PSPath
        @(Get-ChildItem $Photos -Filter '*.png' | Get-WuerstchenEmbedding -Width 128 -Height 128 -Seed 1).Count | Should -Be 3
    }

    It 'Import-WuerstchenEmbedding -Path expands wildcards and has a -LiteralPath twin' {
        $dir = Join-Path $TestDrive 'npy'
        $null = New-Item -ItemType Directory $dir
        $Embedding | Export-WuerstchenEmbedding -Path (Join-Path $dir 'one.npy') | Out-Null
        $Embedding | Export-WuerstchenEmbedding -Path (Join-Path $dir 'two[x].npy') | Out-Null
        @(Import-WuerstchenEmbedding -Path (Join-Path $dir '*.npy')).Count | Should -Be 2
        @(Import-WuerstchenEmbedding -LiteralPath (Join-Path $dir 'two[x].npy')).Count | Should -Be 1
    }

    It 'a folder is "is a folder", not "does not exist", for <_>' -ForEach @('ImagePath', 'LiteralPath', 'Import') {
        $err = $null
        try {
            switch ($_) {
                'ImagePath' { Get-WuerstchenEmbedding -ImagePath $Photos -ErrorAction Stop }
                'LiteralPath' { Get-WuerstchenEmbedding -LiteralPath $Photos -ErrorAction Stop }
                'Import' { Import-WuerstchenEmbedding -Path $Photos -ErrorAction Stop }
            }
        }
        catch { $err = $_ }
        Assert-Error $err 'PathIsFolder' 'InvalidArgument' $Photos
        "$err" | Should -Match 'is a folder'
    }

    It 'Test-WuerstchenModel binds -ModelPath positionally' {
        $missing = Join-Path $TestDrive 'no-model-here'
        $err = $null
        try { Test-WuerstchenModel $missing -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'ModelNotFound,*'
        "$err" | Should -Match ([regex]::Escape($missing))
        $ok = @(Test-WuerstchenModel $Models)
        $ok.Count | Should -BeGreaterThan 0
    }

    It 'covers every cmdlet of the module in the check below' {
        @(Get-Command -Module Wuerstchen -CommandType Cmdlet).Count | Should -Be 9
    }

    It 'Get-WuerstchenEmbedding photo.jpg embeds the text, and the help does not show -ImagePath as positional' {
        $e = Get-WuerstchenEmbedding 'photo.jpg' -Width 128 -Height 128 -Seed 1 -PriorSteps 1
        $e.Prompt | Should -Be 'photo.jpg'
        (Get-Help Get-WuerstchenEmbedding -Parameter ImagePath).position | Should -Be 'named'
        (Get-Help Get-WuerstchenEmbedding -Parameter ImagePath).globbing | Should -Be 'true'
        (Get-Help Test-WuerstchenModel -Parameter ModelPath).position | Should -Be '0'
    }

    It 'help and binding agree: no parameter set puts another parameter at a position the default set uses (<_>)' -ForEach @(
        'New-WuerstchenImage', 'Get-WuerstchenEmbedding', 'ConvertFrom-WuerstchenEmbedding', 'Export-WuerstchenEmbedding',
        'Import-WuerstchenEmbedding', 'Measure-WuerstchenPrompt', 'Test-WuerstchenModel', 'Clear-WuerstchenCache', 'Get-WuerstchenImageInfo') {
        $cmd = Get-Command $_
        $default = $cmd.ParameterSets | Where-Object IsDefault
        if (-not $default) { $default = $cmd.ParameterSets[0] }
        foreach ($set in $cmd.ParameterSets) {
            foreach ($p in $set.Parameters | Where-Object Position -ge 0) {
                $owner = $default.Parameters | Where-Object Position -eq $p.Position
                if ($owner) { "$($set.Name): position $($p.Position) = $($p.Name)" | Should -Be "$($set.Name): position $($p.Position) = $($owner.Name)" }
            }
        }
        # and Get-Help says the same position as the binder for every parameter
        foreach ($hp in (Get-Help $_).parameters.parameter) {
            $positions = @(@(foreach ($set in $cmd.ParameterSets) { foreach ($p in $set.Parameters) { if ($p.Name -eq "$($hp.name)" -and $p.Position -ge 0) { $p.Position } } }) | Sort-Object -Unique)
            $expected = if ($positions.Count -gt 0) { "$($positions[0])" } else { 'named' }
            "$($hp.name) $($hp.position)" | Should -Be "$($hp.name) $expected"
        }
    }
}
