# Scale-out as the README's recipes do it (section "Scaling out"), on the CPU: several workers of one machine over one CSV,
# and the two stages split over two processes that exchange .npy embeddings (as two machines would).
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')

    # A child pwsh of the same PowerShell (as a dotnet tool the process is dotnet + pwsh.dll): a second "machine".
    function Invoke-ChildScript([string] $Script) {
        $exe = [Environment]::ProcessPath
        $arguments = @('-NoProfile', '-NonInteractive', '-Command', $Script)
        if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { $arguments = @((Join-Path $PSHOME 'pwsh.dll')) + $arguments }
        $output = & $exe @arguments 2>&1
        if ($LASTEXITCODE -ne 0) { throw "child pwsh failed ($LASTEXITCODE): $($output -join "`n")" }
    }

    function Get-FileHashes([string] $Folder) {
        Get-ChildItem -LiteralPath $Folder -File -Filter *.png | Sort-Object Name |
            ForEach-Object { '{0} {1}' -f $_.Name, (Get-FileHash -LiteralPath $_.FullName -Algorithm SHA256).Hash }
    }
}

Describe 'One machine, several workers' {
    It 'two ForEach-Object -Parallel workers over one CSV write the same files, byte for byte, as one worker' {
        $csv = Join-Path $TestDrive 'prompts.csv'
        @'
Prompt,Seed,Width,Height,PriorSteps,DecoderSteps
"a red fox",11,128,128,2,2
"a lighthouse at dusk",12,256,128,2,2
"a bowl of ramen",13,128,128,3,2
"a snowy mountain",14,128,256,2,2
'@ | Set-Content -LiteralPath $csv
        $one = Join-Path $TestDrive 'one'
        $null = Import-Csv $csv | New-WuerstchenImage -OutputPath $one

        # the README recipe: rows dealt round-robin to the workers, one -DeviceId each (the CPU ignores it)
        $two = Join-Path $TestDrive 'two'
        $rows = @(Import-Csv $csv)
        $module = Join-Path $ModulePath 'Wuerstchen.psd1'
        $models = $Models
        0..1 | ForEach-Object -ThrottleLimit 2 -Parallel {
            Import-Module $using:module
            $worker = $_
            $mine = for ($i = $worker; $i -lt ($using:rows).Count; $i += 2) { ($using:rows)[$i] }
            $null = $mine | New-WuerstchenImage -OutputPath $using:two -DeviceId $worker -ExecutionProvider Cpu -ModelPath $using:models
        }

        $expected = @(Get-FileHashes $one)
        $expected.Count | Should -Be 4
        @(Get-FileHashes $two) | Should -Be $expected
    }
}

Describe 'Two machines: prior on one, decoder on another' {
    It 'the embedding moved as .npy between two processes gives the same pixels as one process' {
        $common = "-Width 256 -Height 128 -Seed 21 -PriorSteps 3 -ImagesPerPrompt 2"
        # one process: prior, then decoder with an explicit decoder seed (a fresh generator per embedding)
        $single = Join-Path $TestDrive 'single'
        $null = Get-WuerstchenEmbedding 'a lighthouse at dusk' -Width 256 -Height 128 -Seed 21 -PriorSteps 3 -ImagesPerPrompt 2 |
            ConvertFrom-WuerstchenEmbedding -Seed 5 -DecoderSteps 2 -OutputPath $single

        # two processes exchanging embeddings.npy (+ its .json sidecar), as two machines would over a share
        $npy = Join-Path $TestDrive 'handoff/embeddings.npy'
        $split = Join-Path $TestDrive 'split'
        $import = "Import-Module '$(Join-Path $ModulePath 'Wuerstchen.psd1')'; `$ErrorActionPreference = 'Stop'"
        Invoke-ChildScript "$import; `$null = New-Item -ItemType Directory -Force '$(Split-Path $npy)'; Get-WuerstchenEmbedding 'a lighthouse at dusk' $common -ExecutionProvider Cpu -ModelPath '$Models' | Export-WuerstchenEmbedding -Path '$npy'"
        Test-Path -LiteralPath $npy | Should -BeTrue
        Invoke-ChildScript "$import; `$null = Import-WuerstchenEmbedding -Path '$npy' | ConvertFrom-WuerstchenEmbedding -Seed 5 -DecoderSteps 2 -ExecutionProvider Cpu -ModelPath '$Models' -OutputPath '$split'"

        $a = @(Get-ChildItem -LiteralPath $single -Filter *.png | Sort-Object Name)
        $b = @(Get-ChildItem -LiteralPath $split -Filter *.png | Sort-Object Name)
        $a.Count | Should -Be 2
        $b.Count | Should -Be 2
        for ($i = 0; $i -lt 2; $i++) {
            $pa = Get-Rgb $a[$i].FullName
            $pb = Get-Rgb $b[$i].FullName
            "$($pb.Width)x$($pb.Height)" | Should -Be "$($pa.Width)x$($pa.Height)"
            [Linq.Enumerable]::SequenceEqual([byte[]] $pa.Bytes, [byte[]] $pb.Bytes) | Should -BeTrue -Because "image $i must have the same pixels"
        }
    }
}
