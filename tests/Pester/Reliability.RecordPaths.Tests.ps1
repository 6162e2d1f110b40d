# Reliability matrix, whose paths: a prompt list (CSV, pipeline objects) is data people share, so its OutputPath cells
# stay inside the run's output folder (the current location) unless the user says -AllowRecordOutputPath on the command
# line; its ModelPath cells only read. Images record the file name of their input image or .npy, not its folder.
# What every case asserts, and the shared helpers: Reliability.Common.ps1.

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'Reliability.Common.ps1')

    # a fresh run folder (the current location of the run) inside a fresh parent that the records must not reach
    function New-RunFolder {
        $parent = Join-Path $TestDrive ('paths-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        $run = Join-Path $parent 'run'
        $null = New-Item -ItemType Directory $run
        [pscustomobject]@{ Parent = $parent; Run = $run }
    }

    # the records as a CSV file read back by Import-Csv, or as pipeline objects
    function Get-Records([string] $Way, [object[]] $Rows, [string] $Folder) {
        $records = $Rows | ForEach-Object { [pscustomobject]@{ Prompt = $_.Prompt; OutputPath = $_.OutputPath } }
        if ($Way -eq 'Pipeline') { return $records }
        $csv = Join-Path $Folder 'prompts.csv'
        $records | Export-Csv -LiteralPath $csv
        Import-Csv -LiteralPath $csv
    }

    function Invoke-InRun([string] $Folder, [scriptblock] $Script) {
        Push-Location -LiteralPath $Folder
        try { Invoke-Capture $Script } finally { Pop-Location }
    }

    # every file under the parent that is not inside the run folder (the CSV aside)
    function Get-Outside($Dirs) {
        @(Get-ChildItem -LiteralPath $Dirs.Parent -Recurse -File -Force -ErrorAction Ignore |
            Where-Object { -not $_.FullName.StartsWith($Dirs.Run + [IO.Path]::DirectorySeparatorChar) } | ForEach-Object FullName)
    }
}

Describe 'New-WuerstchenImage: a record''s OutputPath stays in the output folder' {
    It 'refuses <Case> from a <Way> record with RecordOutputPathOutside, writes nothing outside, the next record runs' -ForEach @(
        foreach ($way in 'Csv', 'Pipeline') {
            @{ Way = $way; Case = '../x.png' }
            @{ Way = $way; Case = 'absolute' }
            @{ Way = $way; Case = '~/x.png' }
            @{ Way = $way; Case = 'sub/../../x.png' }
            @{ Way = $way; Case = 'symlinked folder' }
        }
    ) {
        $dirs = New-RunFolder
        $unique = 'x-' + [guid]::NewGuid().ToString('N').Substring(0, 8) + '.png'
        $homeDir = (Get-PSProvider FileSystem).Home
        $value = switch ($Case) {
            'absolute' { Join-Path $dirs.Parent $unique }
            '~/x.png' { "~/$unique" }
            'symlinked folder' {
                $elsewhere = Join-Path $dirs.Parent 'elsewhere'
                $null = New-Item -ItemType Directory $elsewhere
                $null = New-Item -ItemType SymbolicLink -Path (Join-Path $dirs.Run 'link') -Target $elsewhere
                "link/$unique"
            }
            default { $Case.Replace('x.png', $unique) }
        }
        $rows = @([pscustomobject]@{ Prompt = 'shared'; OutputPath = $value }, [pscustomobject]@{ Prompt = 'next'; OutputPath = 'ok.png' })
        try {
            $r = Invoke-InRun $dirs.Run { Get-Records $Way $rows $dirs.Run | New-WuerstchenImage @Small }
            Get-Outside $dirs | Should -BeNullOrEmpty
            Test-Path -LiteralPath (Join-Path $homeDir $unique) | Should -BeFalse
            $r.Errors.Count | Should -Be 1
            Assert-WuerstchenError $r.Errors[0] 'RecordOutputPathOutside' 'PermissionDenied' @($value, 'record 1', '-AllowRecordOutputPath')
            $r.Errors[0].TargetObject.OutputPath | Should -Be $value
            @($r.Output).Count | Should -Be 1
            $r.Output[0].FullName | Should -Be (Join-Path $dirs.Run 'ok.png')
        } finally {
            Remove-Item -LiteralPath (Join-Path $homeDir $unique) -ErrorAction Ignore
        }
    }

    It 'with the user''s -Force, a record ''../victim.png'' leaves the victim as it was' {
        $dirs = New-RunFolder
        $victim = Join-Path $dirs.Parent 'victim.png'
        Set-Content -LiteralPath $victim -Value 'not yours'
        $r = Invoke-InRun $dirs.Run { [pscustomobject]@{ Prompt = 'shared'; OutputPath = '../victim.png' } | New-WuerstchenImage @Small -Force }
        Get-Content -LiteralPath $victim | Should -Be 'not yours'
        Assert-WuerstchenError $r.Errors[0] 'RecordOutputPathOutside' 'PermissionDenied' @('../victim.png')
    }

    It 'a record''s relative file or sub-folder inside the output folder is written there (the folder made)' {
        $dirs = New-RunFolder
        $rows = @([pscustomobject]@{ Prompt = 'a'; OutputPath = 'named.png' }, [pscustomobject]@{ Prompt = 'b'; OutputPath = 'sub/deeper' },
            [pscustomobject]@{ Prompt = 'c'; OutputPath = 'sub/../inside.png' })
        $r = Invoke-InRun $dirs.Run { $rows | New-WuerstchenImage @Small }
        $r.Errors | Should -BeNullOrEmpty
        @($r.Output.FullName) | Should -Be @((Join-Path $dirs.Run 'named.png'), (Join-Path $dirs.Run 'sub/deeper/b-1-0.png'), (Join-Path $dirs.Run 'inside.png'))
    }

    It 'a symbolic link inside the output folder to a folder inside it is followed' {
        $dirs = New-RunFolder
        $null = New-Item -ItemType Directory (Join-Path $dirs.Run 'real')
        $null = New-Item -ItemType SymbolicLink -Path (Join-Path $dirs.Run 'alias') -Target (Join-Path $dirs.Run 'real')
        $r = Invoke-InRun $dirs.Run { [pscustomobject]@{ Prompt = 'a'; OutputPath = 'alias/a.png' } | New-WuerstchenImage @Small }
        $r.Errors | Should -BeNullOrEmpty
        Test-Path -LiteralPath (Join-Path $dirs.Run 'real/a.png') | Should -BeTrue
    }

    It '-AllowRecordOutputPath lets the records write where they say (the user''s word on the command line)' {
        $dirs = New-RunFolder
        $r = Invoke-InRun $dirs.Run { [pscustomobject]@{ Prompt = 'a'; OutputPath = '../allowed.png' } | New-WuerstchenImage @Small -AllowRecordOutputPath }
        $r.Errors | Should -BeNullOrEmpty
        Test-Path -LiteralPath (Join-Path $dirs.Parent 'allowed.png') | Should -BeTrue
    }

    It 'a command-line -OutputPath outside the current folder is the user''s own and is used' {
        $dirs = New-RunFolder
        $r = Invoke-InRun $dirs.Run { New-WuerstchenImage 'a' @Small -OutputPath '../mine.png' }
        $r.Errors | Should -BeNullOrEmpty
        Test-Path -LiteralPath (Join-Path $dirs.Parent 'mine.png') | Should -BeTrue
    }
}

Describe 'New-WuerstchenImage: a record''s ModelPath only reads' {
    It 'a ModelPath column naming a model folder anywhere is used, and nothing is written there' {
        $dirs = New-RunFolder
        $before = @(Get-ChildItem -LiteralPath $Models -Recurse -Force | ForEach-Object { "$($_.FullName) $($_.LastWriteTimeUtc.Ticks)" })
        $saved = $PSDefaultParameterValues['*-Wuerstchen*:ModelPath']
        $PSDefaultParameterValues.Remove('*-Wuerstchen*:ModelPath')
        try {
            $r = Invoke-InRun $dirs.Run { [pscustomobject]@{ Prompt = 'a'; ModelPath = $Models } | New-WuerstchenImage @Small }
        } finally { $PSDefaultParameterValues['*-Wuerstchen*:ModelPath'] = $saved }
        $r.Errors | Should -BeNullOrEmpty
        @($r.Output).Count | Should -Be 1
        @(Get-ChildItem -LiteralPath $Models -Recurse -Force | ForEach-Object { "$($_.FullName) $($_.LastWriteTimeUtc.Ticks)" }) | Should -Be $before
    }
}

Describe 'Images record the file name of their input, not its folder' {
    BeforeAll {
        $script:Private = Join-Path $TestDrive 'home-of-someone/private-folder'
        $null = New-Item -ItemType Directory $Private
        $script:Photo = Join-Path $Private 'photo.png'
        $rgb = [byte[]]::new(128 * 128 * 3)
        for ($i = 0; $i -lt $rgb.Length; $i++) { $rgb[$i] = [byte]($i % 251) }
        $fs = [System.IO.File]::Create($Photo)
        try { [Wuerstchen.Core.IO.PngImage]::Write($fs, $rgb, 128, 128, [System.Collections.Generic.Dictionary[string, string]]::new(), 'BestSpeed') } finally { $fs.Dispose() }
    }

    It 'Get-WuerstchenEmbedding -ImagePath: the embedding, its sidecar and the decoded image say image:photo.png' {
        $e = Get-WuerstchenEmbedding -ImagePath $Photo -Seed 3 -Width 128 -Height 128
        $e.Source | Should -Be 'image:photo.png'
        $out = Join-Path $TestDrive 'from-image'
        $f = $e | ConvertFrom-WuerstchenEmbedding -DecoderSteps 2 -Prompt 'a photo' -OutputPath $out
        $f.Source | Should -Be 'image:photo.png'
        [Text.Encoding]::Latin1.GetString([IO.File]::ReadAllBytes($f.FullName)).Contains('private-folder') | Should -BeFalse
        $npy = Join-Path $out 'e.npy'
        $null = $e | Export-WuerstchenEmbedding -Path $npy
        Get-Content -Raw -LiteralPath ([IO.Path]::ChangeExtension($npy, '.json')) | Should -Not -Match 'private-folder'
    }

    It 'Import-WuerstchenEmbedding of a .npy: the embedding and the decoded image say file:<name>, a bare .npy still names its image' {
        $npy = Join-Path $Private 'fox.npy'
        $null = Get-WuerstchenEmbedding 'a fox' -Width 128 -Height 128 -Seed 1 -PriorSteps 2 | Export-WuerstchenEmbedding -Path $npy
        $e = Import-WuerstchenEmbedding -LiteralPath $npy
        $e.Source | Should -Be 'file:fox.npy'
        $out = Join-Path $TestDrive 'from-npy'
        $f = $e | ConvertFrom-WuerstchenEmbedding -DecoderSteps 2 -OutputPath $out
        $f.Source | Should -Be 'file:fox.npy'
        [Text.Encoding]::Latin1.GetString([IO.File]::ReadAllBytes($f.FullName)).Contains('private-folder') | Should -BeFalse
        Remove-Item -LiteralPath ([IO.Path]::ChangeExtension($npy, '.json'))
        $bare = Import-WuerstchenEmbedding -LiteralPath $npy | ConvertFrom-WuerstchenEmbedding -DecoderSteps 2 -OutputPath (Join-Path $TestDrive 'bare')
        $bare.Name | Should -BeLike 'fox-*.png'
        $bare.Source | Should -Be 'file:fox.npy'
    }
}
