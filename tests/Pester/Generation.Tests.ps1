BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

Describe 'Module' {
    It 'exports the cmdlets users script against' {
        $names = (Get-Command -Module Wuerstchen).Name
        foreach ($n in 'New-WuerstchenImage', 'Get-WuerstchenEmbedding', 'ConvertFrom-WuerstchenEmbedding', 'Export-WuerstchenEmbedding',
            'Import-WuerstchenEmbedding', 'Measure-WuerstchenPrompt', 'Test-WuerstchenModel', 'Clear-WuerstchenCache', 'Get-WuerstchenImageInfo') {
            $names | Should -Contain $n
        }
    }

    It 'has Get-Help examples for <_>' -ForEach @('New-WuerstchenImage', 'Get-WuerstchenEmbedding', 'ConvertFrom-WuerstchenEmbedding',
        'Export-WuerstchenEmbedding', 'Import-WuerstchenEmbedding', 'Measure-WuerstchenPrompt', 'Test-WuerstchenModel', 'Clear-WuerstchenCache', 'Get-WuerstchenImageInfo') {
        $help = Get-Help $_ -Examples
        $help.Synopsis | Should -Not -BeNullOrEmpty
        @($help.examples.example).Count | Should -BeGreaterThan 0
        @($help.examples.example)[0].code | Should -Match $_.Split('-')[1].Substring(0, 4)
    }

    It 'documents every parameter of New-WuerstchenImage' {
        $help = Get-Help New-WuerstchenImage -Full
        foreach ($p in 'Prompt', 'Seed', 'Width', 'PriorTimesteps', 'OutputPath', 'ExecutionProvider', 'ModelPath') {
            ($help.parameters.parameter | Where-Object name -eq $p).description.Text | Should -Not -BeNullOrEmpty
        }
    }

    It 'shows a CSV example' {
        (Get-Help New-WuerstchenImage -Examples | Out-String) | Should -Match 'Import-Csv'
    }
}

Describe 'Parity jobs through New-WuerstchenImage' {
    It 'reproduces <_> within the tolerances' -ForEach @('v1-small', 'v2-defaults', 'v3-batch-negative') {
        $job = Get-ParityJob $_
        $files = @(New-WuerstchenImage @job -ModelPath $ParityModels -OutputPath (Join-Path $TestDrive $_))
        $expected = [Wuerstchen.Core.IO.Npy]::Read((Join-Path $ParityDir "$_.images.npy"))
        $files.Count | Should -Be $expected.Shape[0]
        $all = [System.Collections.Generic.List[byte]]::new()
        foreach ($f in $files) {
            $img = Get-Rgb $f.FullName
            $img.Width | Should -Be $expected.Shape[2]
            $img.Height | Should -Be $expected.Shape[1]
            $all.AddRange($img.Bytes)
        }
        $cmp = Compare-Bytes $all.ToArray() $expected.Bytes
        $cmp.Max | Should -BeLessOrEqual 2
        $cmp.Over1 | Should -BeLessOrEqual ([int]($cmp.Count / 1000))
    }
}

Describe 'New-WuerstchenImage' {
    It 'returns one FileInfo per image, prompt-major, with the parameters as properties and PNG text' {
        $files = @(New-WuerstchenImage 'a red apple', 'a blue car' -ImagesPerPrompt 2 -Width 256 -Height 384 -Seed 5 -PriorSteps 3 -DecoderSteps 2 -OutputPath $TestDrive)
        $files.Count | Should -Be 4
        $files | ForEach-Object { $_ | Should -BeOfType System.IO.FileInfo }
        $files.Prompt | Should -Be @('a red apple', 'a red apple', 'a blue car', 'a blue car')
        $files.ImageIndex | Should -Be @(0, 1, 0, 1)
        $files.Seed | Sort-Object -Unique | Should -Be 5
        $files[0].Width | Should -Be 256
        $files[0].Height | Should -Be 384
        $files[0].PriorSteps | Should -Be 3
        $files[0].Name | Should -Be 'a-red-apple-5-0.png'
        $text = [Wuerstchen.Core.IO.PngImage]::ReadText($files[2].FullName)
        $text['prompt'] | Should -Be 'a blue car'
        $text['seed'] | Should -Be '5'
        $text['prior_steps'] | Should -Be '3'
        $text['decoder_steps'] | Should -Be '2'
        $text['model'] | Should -Be 'standin'
        (Get-Rgb $files[0].FullName).Width | Should -Be 256
    }

    It 'chooses, reports and honours a random seed when none is given' {
        $a = New-WuerstchenImage 'a small boat' -Width 256 -Height 256 -PriorSteps 3 -DecoderSteps 2 -OutputPath (Join-Path $TestDrive 'r1')
        $a.Seed | Should -BeOfType [long]
        $b = New-WuerstchenImage 'a small boat' -Width 256 -Height 256 -PriorSteps 3 -DecoderSteps 2 -Seed $a.Seed -OutputPath (Join-Path $TestDrive 'r2')
        (Compare-Bytes (Get-Rgb $a.FullName).Bytes (Get-Rgb $b.FullName).Bytes).Max | Should -Be 0
    }

    It 'creates a missing output folder and accepts a file name' {
        $dir = Join-Path $TestDrive 'new/nested'
        $f = New-WuerstchenImage 'x' -Width 128 -Height 128 -Seed 1 -PriorSteps 2 -DecoderSteps 2 -OutputPath $dir
        $f.DirectoryName | Should -Be (Resolve-Path $dir).Path
        $named = @(New-WuerstchenImage 'x' -ImagesPerPrompt 2 -Width 128 -Height 128 -Seed 1 -PriorSteps 2 -DecoderSteps 2 -OutputPath (Join-Path $TestDrive 'my.png'))
        $named.Name | Should -Be @('my.png', 'my-1.png')
    }

    It 'keeps default names unique across calls: another image gets -1, the same image again is OutputFileExists' {
        $dir = Join-Path $TestDrive 'unique'
        $one = New-WuerstchenImage 'same' -Width 128 -Height 128 -Seed 3 -PriorSteps 2 -DecoderSteps 2 -OutputPath $dir
        $two = New-WuerstchenImage 'same' -Width 128 -Height 128 -Seed 3 -PriorSteps 3 -DecoderSteps 2 -OutputPath $dir
        $one.Name | Should -Be 'same-3-0.png'
        $two.Name | Should -Be 'same-3-0-1.png'
        $err = $null
        $three = New-WuerstchenImage 'same' -Width 128 -Height 128 -Seed 3 -PriorSteps 2 -DecoderSteps 2 -OutputPath $dir -ErrorVariable err -ErrorAction SilentlyContinue
        $three | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -BeLike 'OutputFileExists,*'
        @(Get-ChildItem $dir).Count | Should -Be 2
    }

    It 'refuses to overwrite an explicit file without -Force' {
        $path = Join-Path $TestDrive 'exists.png'
        Set-Content $path 'keep'
        $err = $null
        $r = New-WuerstchenImage 'x' -Width 128 -Height 128 -Seed 1 -PriorSteps 2 -DecoderSteps 2 -OutputPath $path -ErrorVariable err -ErrorAction SilentlyContinue
        $r | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -BeLike 'OutputFileExists*'
        $err[0].CategoryInfo.Category | Should -Be 'WriteError'
        $err[0].Exception.Message | Should -BeLike "*$path*"
        Get-Content $path | Should -Be 'keep'
        $f = New-WuerstchenImage 'x' -Width 128 -Height 128 -Seed 1 -PriorSteps 2 -DecoderSteps 2 -OutputPath $path -Force
        (Get-Rgb $f.FullName).Width | Should -Be 128
    }

    It 'loads no model and writes nothing with -WhatIf' {
        $dir = Join-Path $TestDrive 'whatif'
        $r = New-WuerstchenImage 'x' -Seed 1 -OutputPath $dir -ModelPath (Join-Path $TestDrive 'no-such-model') -WhatIf
        $r | Should -BeNullOrEmpty
        Test-Path $dir | Should -BeFalse
    }

    It 'says how to get a model when there is none' {
        $err = $null
        New-WuerstchenImage 'x' -Width 128 -Height 128 -OutputPath $TestDrive -ModelPath (Join-Path $TestDrive 'missing-model') -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'ModelNotFound*'
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].Exception.Message | Should -Match 'missing-model'
        $err[0].Exception.Message | Should -Match 'export_wuerstchen.py'
    }

    It 'uses $env:WUERSTCHEN_MODEL_PATH when -ModelPath is not given' {
        $saved = $PSDefaultParameterValues['*-Wuerstchen*:ModelPath']
        $PSDefaultParameterValues.Remove('*-Wuerstchen*:ModelPath')
        try {
            $env:WUERSTCHEN_MODEL_PATH = $Models
            $f = New-WuerstchenImage 'env model' -Width 128 -Height 128 -Seed 1 -PriorSteps 2 -DecoderSteps 2 -OutputPath (Join-Path $TestDrive 'env')
            $f.ModelName | Should -Be 'standin'
        }
        finally {
            $PSDefaultParameterValues['*-Wuerstchen*:ModelPath'] = $saved
            Remove-Item Env:WUERSTCHEN_MODEL_PATH
        }
    }

    It 'reuses loaded networks on later calls' {
        $null = New-WuerstchenImage 'warm' -Width 128 -Height 128 -Seed 1 -PriorSteps 2 -DecoderSteps 2 -OutputPath (Join-Path $TestDrive 'c1')
        $loads = [Wuerstchen.Core.SessionCache]::Shared.LoadCount
        $null = New-WuerstchenImage 'warm' -Width 128 -Height 128 -Seed 2 -PriorSteps 2 -DecoderSteps 2 -OutputPath (Join-Path $TestDrive 'c2')
        [Wuerstchen.Core.SessionCache]::Shared.LoadCount | Should -Be $loads
        (Clear-WuerstchenCache -PassThru) | Should -BeGreaterThan 0
        $null = New-WuerstchenImage 'warm' -Width 128 -Height 128 -Seed 2 -PriorSteps 2 -DecoderSteps 2 -OutputPath (Join-Path $TestDrive 'c3')
        [Wuerstchen.Core.SessionCache]::Shared.LoadCount | Should -BeGreaterThan $loads
    }

    It 'writes progress for the batch and for each stage' {
        $ps = [powershell]::Create()
        $null = $ps.AddScript("Import-Module '$ModulePath'; New-WuerstchenImage 'progress' -Width 128 -Height 128 -Seed 1 -PriorSteps 4 -DecoderSteps 3 -ExecutionProvider Cpu -ModelPath '$Models' -OutputPath '$(Join-Path $TestDrive 'p')'")
        $null = $ps.Invoke()
        $ps.HadErrors | Should -BeFalse
        $activities = $ps.Streams.Progress.Activity | Sort-Object -Unique
        ($activities -match 'Prior').Count | Should -BeGreaterThan 0
        ($activities -match 'Decoder').Count | Should -BeGreaterThan 0
        ($ps.Streams.Progress | Where-Object StatusDescription -Match 'step 4 of 4').Count | Should -BeGreaterThan 0
        $ps.Dispose()
    }
}

Describe 'Stages piped on their own' {
    It 'Get-WuerstchenEmbedding | ConvertFrom-WuerstchenEmbedding gives exactly the one-shot pixels' {
        $job = Get-ParityJob 'v3-batch-negative'
        $oneShot = @(New-WuerstchenImage @job -OutputPath (Join-Path $TestDrive 'one'))
        $priorArgs = $job.Clone(); foreach ($k in 'DecoderSteps', 'DecoderTimesteps', 'DecoderGuidanceScale') { $priorArgs.Remove($k) }
        $embeddings = @(Get-WuerstchenEmbedding @priorArgs)
        $embeddings.Count | Should -Be 2
        $embeddings[0].Shape | Should -Be @(16, 24, 18)
        $embeddings[0].Data.Length | Should -Be (16 * 24 * 18)
        $piped = @($embeddings | ConvertFrom-WuerstchenEmbedding -DecoderSteps $job.DecoderSteps -DecoderGuidanceScale $job.DecoderGuidanceScale -OutputPath (Join-Path $TestDrive 'piped'))
        $piped.Count | Should -Be 2
        for ($i = 0; $i -lt 2; $i++) {
            (Compare-Bytes (Get-Rgb $piped[$i].FullName).Bytes (Get-Rgb $oneShot[$i].FullName).Bytes).Max | Should -Be 0
        }
    }

    It 'formats an embedding without printing its data' {
        $e = Get-WuerstchenEmbedding 'fmt' -Width 128 -Height 128 -Seed 1 -PriorSteps 2
        $text = $e | Out-String
        $text | Should -Match 'fmt'
        $text | Should -Not -Match '\d+\.\d{5,}'
        ($e | Format-List | Out-String) | Should -Match '144 float values'
    }

    It 'an explicit -Seed starts a fresh generator, equal to an embedding without state' {
        $e = Get-WuerstchenEmbedding 'fresh' -Width 256 -Height 256 -Seed 4 -PriorSteps 3
        $file = Join-Path $TestDrive 'fresh.npy'
        $e | Export-WuerstchenEmbedding -Path $file
        $continued = $e | ConvertFrom-WuerstchenEmbedding -DecoderSteps 3 -OutputPath (Join-Path $TestDrive 'cont')
        $seeded = $e | ConvertFrom-WuerstchenEmbedding -DecoderSteps 3 -Seed 4 -OutputPath (Join-Path $TestDrive 'seeded')
        $imported = Import-WuerstchenEmbedding $file | ConvertFrom-WuerstchenEmbedding -DecoderSteps 3 -OutputPath (Join-Path $TestDrive 'imported')
        (Compare-Bytes (Get-Rgb $seeded.FullName).Bytes (Get-Rgb $imported.FullName).Bytes).Max | Should -Be 0
        (Compare-Bytes (Get-Rgb $seeded.FullName).Bytes (Get-Rgb $continued.FullName).Bytes).Max | Should -BeGreaterThan 0
    }
}

Describe 'Export-WuerstchenEmbedding and Import-WuerstchenEmbedding' {
    It 'round-trips data and metadata through a numpy .npy and a sidecar' {
        $e = @(Get-WuerstchenEmbedding 'one', 'two' -NegativePrompt 'bad' -Width 384 -Height 256 -Seed 8 -PriorSteps 3)
        $file = Join-Path $TestDrive 'emb.npy'
        $out = $e | Export-WuerstchenEmbedding -Path $file
        $out.FullName | Should -Be $file
        Test-Path (Join-Path $TestDrive 'emb.json') | Should -BeTrue
        $raw = [Wuerstchen.Core.IO.Npy]::Read($file)
        $raw.Descr | Should -Be '<f4'
        $raw.Shape | Should -Be @(2, 16, 6, 9)
        $back = @(Import-WuerstchenEmbedding $file)
        $back.Count | Should -Be 2
        $back.Prompt | Should -Be @('one', 'two')
        $back[1].NegativePrompt | Should -Be 'bad'
        $back[0].Seed | Should -Be 8
        $back[0].Width | Should -Be 384
        [System.Linq.Enumerable]::SequenceEqual($back[1].Data, $e[1].Data) | Should -BeTrue
        $back[0].Stream | Should -BeNullOrEmpty
    }

    It 'refuses to overwrite without -Force' {
        $file = Join-Path $TestDrive 'twice.npy'
        Get-WuerstchenEmbedding 'a' -Width 128 -Height 128 -Seed 1 -PriorSteps 2 | Export-WuerstchenEmbedding -Path $file
        $err = $null
        Get-WuerstchenEmbedding 'b' -Width 128 -Height 128 -Seed 1 -PriorSteps 2 | Export-WuerstchenEmbedding -Path $file -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'OutputFileExists*'
        (Import-WuerstchenEmbedding $file).Prompt | Should -Be 'a'
    }
}

Describe 'Measure-WuerstchenPrompt' {
    It 'shows the 77 ids of a prompt' {
        $m = Measure-WuerstchenPrompt 'a photo of a cat'
        $m.TokenCount | Should -Be 5
        $m.TokenIds.Count | Should -Be 77
        $m.TokenIds[0..6] | Should -Be @(49406, 320, 1125, 539, 320, 2368, 49407)
        $m.TokenIds[76] | Should -Be 49407
        $m.Truncated | Should -BeFalse
    }

    It 'reports what a long prompt loses' {
        $long = (1..100 | ForEach-Object { "word$_" }) -join ' '
        $m = $long | Measure-WuerstchenPrompt
        $m.Truncated | Should -BeTrue
        $m.TokenCount | Should -BeGreaterThan 75
        $m.TruncatedText | Should -Match 'word 1 0 0$'
    }
}

Describe 'CSV input' {
    It 'binds columns by property name and keeps going past a bad row' {
        $csv = Join-Path $TestDrive 'prompts.csv'
        @'
Prompt,NegativePrompt,Seed,Width,Height,PriorSteps,DecoderSteps,PriorTimesteps
"a lighthouse at dusk","blurry",7,256,128,3,2,
"a bowl of ramen",,8,1000,128,3,2,
"a red fox",,9,128,256,,2,"1, 0.5, 0"
'@ | Set-Content $csv
        $err = $null
        $files = @(Import-Csv $csv | New-WuerstchenImage -OutputPath (Join-Path $TestDrive 'csv') -ErrorVariable err -ErrorAction SilentlyContinue)
        $files.Count | Should -Be 2
        $files[0].Prompt | Should -Be 'a lighthouse at dusk'
        $files[0].NegativePrompt | Should -Be 'blurry'
        $files[0].Seed | Should -Be 7
        $files[0].Width | Should -Be 256
        $files[0].Height | Should -Be 128
        $files[1].Prompt | Should -Be 'a red fox'
        $files[1].PriorTimesteps | Should -Be @(1, 0.5, 0)
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'InvalidImageSize*'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err[0].Exception.Message | Should -Match '1000'
        $err[0].Exception.Message | Should -Match '1024'
    }
}

Describe 'Image to embedding' {
    BeforeAll {
        # a 300×200 gradient PNG written with the engine's own writer
        $script:photo = Join-Path $TestDrive 'photo.png'
        $rgb = [byte[]]::new(300 * 200 * 3)
        for ($i = 0; $i -lt $rgb.Length; $i++) { $rgb[$i] = [byte](($i % 900) * 255 / 900) }
        $fs = [System.IO.File]::Create($photo)
        try { [Wuerstchen.Core.IO.PngImage]::Write($fs, $rgb, 300, 200, [System.Collections.Generic.Dictionary[string, string]]::new(), 'BestSpeed') } finally { $fs.Dispose() }
    }

    It 'encodes an image at its aspect ratio near 1024² pixels and decodes it' {
        $e = Get-WuerstchenEmbedding -ImagePath $photo -Seed 3
        $e.Shape | Should -Be @(16, 18, 27)
        $e.Width | Should -Be 1152
        $e.Source | Should -Be "image:$(Split-Path $photo -Leaf)"
        $e.Stream | Should -BeNullOrEmpty
        $f = $e | ConvertFrom-WuerstchenEmbedding -DecoderSteps 2 -Prompt 'a photo' -OutputPath (Join-Path $TestDrive 'recon')
        $f.Prompt | Should -Be 'a photo'
        $f.Seed | Should -Be 3
        (Get-Rgb $f.FullName).Width | Should -Be 1152
    }

    It 'encodes at a requested size and binds FullName from Get-ChildItem' {
        $e = Get-ChildItem $photo | Get-WuerstchenEmbedding -Width 512 -Height 384
        $e.Shape | Should -Be @(16, 9, 12)
        $e.Height | Should -Be 384
    }

    It 'gives variations with different seeds' {
        $e = Get-WuerstchenEmbedding -ImagePath $photo -Seed 1
        $a = $e | ConvertFrom-WuerstchenEmbedding -DecoderSteps 2 -Seed 10 -OutputPath (Join-Path $TestDrive 'v1')
        $b = $e | ConvertFrom-WuerstchenEmbedding -DecoderSteps 2 -Seed 11 -OutputPath (Join-Path $TestDrive 'v2')
        $a.Seed | Should -Be 10
        (Compare-Bytes (Get-Rgb $a.FullName).Bytes (Get-Rgb $b.FullName).Bytes).Max | Should -BeGreaterThan 0
    }
}

Describe 'Test-WuerstchenModel' {
    It 'passes the stand-in folder stage by stage' {
        $r = @(Test-WuerstchenModel)
        $r.Stage | Should -Contain 'Prior'
        $r.Stage | Should -Contain 'Vqgan'
        $r | ForEach-Object { $_.Status | Should -Be 'Ok' }
        ($r | Where-Object Stage -eq 'PriorTextEncoder').HiddenSize | Should -Be 8
        Test-WuerstchenModel -Quiet | Should -BeTrue
    }
}

Describe 'Default file names' {
    It 'makes a readable slug from any prompt (<Prompt>)' -ForEach @(
        @{ Prompt = 'Crème brûlée, on a plate!'; Expected = 'creme-brulee-on-a-plate-1-0.png' }
        @{ Prompt = '🌭🌭'; Expected = 'image-1-0.png' }
        @{ Prompt = "lone $([char]0xD800) surrogate"; Expected = 'lone-surrogate-1-0.png' }
    ) {
        $f = New-WuerstchenImage $Prompt -Width 128 -Height 128 -Seed 1 -PriorSteps 2 -DecoderSteps 2 -OutputPath (Join-Path $TestDrive ([guid]::NewGuid()))
        $f.Name | Should -Be $Expected
        $f.Prompt | Should -Be $Prompt
    }
}
