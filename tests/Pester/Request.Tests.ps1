# One generation request from every way in (command line, CSV cells, pipeline objects) to the file: numbering within a
# run, invariant numbers, prompt rules, record numbers in errors, empty cells, stable names and -SkipExisting, -WhatIf.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Fast = @{ Width = 128; Height = 128; PriorSteps = 2; DecoderSteps = 2 }
}

Describe 'New-WuerstchenImage numbers the images of one pipeline run' {
    It 'piped prompts into one file name get -1, -2 and never replace each other, also with -Force' {
        $dir = Join-Path $TestDrive 'numbered'
        $null = New-Item -ItemType Directory $dir
        $out = 'one', 'two', 'three' | New-WuerstchenImage @Fast -Seed 1 -OutputPath (Join-Path $dir 'r.png') -Force
        @($out).Count | Should -Be 3
        (Get-ChildItem $dir).Name | Sort-Object | Should -Be @('r-1.png', 'r-2.png', 'r.png')
        $out.Name | Should -Be @('r.png', 'r-1.png', 'r-2.png')
        foreach ($f in $out) { [Wuerstchen.Core.IO.ImageFile]::ReadParameters($f.FullName)['prompt'] | Should -Be $f.Prompt }
    }

    It 'a guidance sweep of equal prompt and seed into one folder with -Force leaves one file per row' {
        $dir = Join-Path $TestDrive 'sweep'
        $csv = New-Csv "Prompt,Seed,PriorGuidanceScale`na fox,5,1`na fox,5,2`na fox,5,3"
        $out = Import-Csv $csv | New-WuerstchenImage @Fast -OutputPath $dir -Force
        @($out).Count | Should -Be 3
        @(Get-ChildItem $dir).Count | Should -Be 3
        @($out.FullName | Sort-Object -Unique).Count | Should -Be 3
    }

    It '-Force overwrites a file that existed before the run' {
        $dir = Join-Path $TestDrive 'before'
        $null = New-Item -ItemType Directory $dir
        Set-Content (Join-Path $dir 'r.png') 'old'
        $out = 'one' | New-WuerstchenImage @Fast -Seed 1 -OutputPath (Join-Path $dir 'r.png') -Force
        $out.Name | Should -Be 'r.png'
        @(Get-ChildItem $dir).Count | Should -Be 1
        [Wuerstchen.Core.IO.ImageFile]::ReadParameters($out.FullName)['prompt'] | Should -Be 'one'
    }
}

Describe 'New-WuerstchenImage reads numbers with the invariant culture' {
    It 'a decimal comma in a CSV cell is an error naming the parameter, the value and what to write' {
        $dir = Join-Path $TestDrive 'comma'
        $csv = New-Csv "Prompt;Seed;PriorGuidanceScale`na fox;5;`"4,5`""
        $r = Invoke-Capture { Import-Csv $csv -Delimiter ';' | New-WuerstchenImage @Fast -OutputPath $dir }
        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'InvalidNumber,*'
        $r.Errors[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $r.Errors[0].Exception.Message | Should -Match 'PriorGuidanceScale'
        $r.Errors[0].Exception.Message | Should -Match "'4,5'"
        $r.Errors[0].Exception.Message | Should -Match '4\.5'
        Test-Path $dir | Should -BeFalse
    }

    It 'a fraction for -Seed at the command line is an error, not rounded' {
        $r = Invoke-Capture { New-WuerstchenImage 'a fox' @Fast -Seed 1.7 -OutputPath (Join-Path $TestDrive 'frac') }
        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'InvalidWholeNumber,*'
        $r.Errors[0].Exception.Message | Should -Match 'Seed'
        $r.Errors[0].Exception.Message | Should -Match '1\.7'
    }

    It 'a fraction in a PriorSteps cell is an error for that row' {
        $csv = New-Csv "Prompt,PriorSteps`na fox,4.6"
        $r = Invoke-Capture { Import-Csv $csv | New-WuerstchenImage -Width 128 -Height 128 -DecoderSteps 2 -OutputPath (Join-Path $TestDrive 'steps') }
        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'InvalidWholeNumber,*'
        $r.Errors[0].Exception.Message | Should -Match "'PriorSteps' got '4.6'"
    }
}

Describe 'Get-WuerstchenEmbedding takes prompts as New-WuerstchenImage does' {
    It 'a pipeline object without a Prompt property is PromptPropertyMissing, not its text' {
        $r = Invoke-Capture { [pscustomobject]@{ prompt_text = 'a red fox' } | Get-WuerstchenEmbedding -Width 128 -Height 128 -PriorSteps 2 }
        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'PromptPropertyMissing,*'
    }
}

Describe 'New-WuerstchenImage prompts from the pipeline' {
    It 'a Prompt property holding an array makes one prompt per item' {
        $out = [pscustomobject]@{ Prompt = 'a', 'b' } | New-WuerstchenImage @Fast -Seed 2 -OutputPath (Join-Path $TestDrive 'array')
        $out.Prompt | Should -Be @('a', 'b')
    }

    It 'a $null Prompt property is an error' {
        $r = Invoke-Capture { [pscustomobject]@{ Prompt = $null } | New-WuerstchenImage @Fast -OutputPath (Join-Path $TestDrive 'null') }
        $r.Output | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'EmptyPrompt,*'
    }

    It 'blank lines from the pipeline are skipped with a warning naming the record' {
        $r = Invoke-Capture { 'a fox', '', '   ' | New-WuerstchenImage @Fast -Seed 3 -OutputPath (Join-Path $TestDrive 'blank') }
        $r.Errors | Should -BeNullOrEmpty
        @($r.Output).Count | Should -Be 1
        $r.Warnings.Count | Should -Be 2
        $r.Warnings[0] | Should -Match 'record 2'
        $r.Warnings[1] | Should -Match 'record 3'
    }
}

Describe 'New-WuerstchenImage columns' {
    It 'a Quality column sets the JPEG quality of its row' {
        $dir = Join-Path $TestDrive 'quality'
        $null = New-Item -ItemType Directory $dir
        $low = [pscustomobject]@{ Prompt = 'a fox'; Quality = 5; OutputPath = (Join-Path $dir 'low.jpg') } | New-WuerstchenImage @Fast -Seed 4 -AllowRecordOutputPath
        $high = [pscustomobject]@{ Prompt = 'a fox'; Quality = 100; OutputPath = (Join-Path $dir 'high.jpg') } | New-WuerstchenImage @Fast -Seed 4 -AllowRecordOutputPath
        $low.Length | Should -BeLessThan $high.Length
    }

    It 'a command-line -OutputPath over an OutputPath column warns once per run' {
        $dir = Join-Path $TestDrive 'override'
        $rows = 1..2 | ForEach-Object { [pscustomobject]@{ Prompt = "row $_"; OutputPath = (Join-Path $TestDrive "col$_") } }
        $r = Invoke-Capture { $rows | New-WuerstchenImage @Fast -Seed 5 -OutputPath $dir }
        @($r.Output).Count | Should -Be 2
        @($r.Warnings | Where-Object { $_ -match 'OutputPath' }).Count | Should -Be 1
    }

    It 'a $PSDefaultParameterValues value over a column of the same name warns once per run and column (Seed, ModelPath)' {
        $rows = 1..2 | ForEach-Object { [pscustomobject]@{ Prompt = "row $_"; Seed = 10 + $_; ModelPath = $Models } }
        $PSDefaultParameterValues['New-WuerstchenImage:Seed'] = 99
        try { $r = Invoke-Capture { $rows | New-WuerstchenImage @Fast -OutputPath (Join-Path $TestDrive 'defaults') } }
        finally { $PSDefaultParameterValues.Remove('New-WuerstchenImage:Seed') }
        $r.Errors | Should -BeNullOrEmpty
        @($r.Output.Seed | Sort-Object -Unique) | Should -Be @(99) # PowerShell's rule: the default wins
        @($r.Warnings | Where-Object { $_ -like "The records' Seed column is ignored: -Seed '99'*" }).Count | Should -Be 1
        @($r.Warnings | Where-Object { $_ -like "The records' ModelPath column is ignored*" }).Count | Should -Be 1
    }
}

Describe 'New-WuerstchenImage errors name the record' {
    It 'counts rows that fail to bind, puts the record and prompt in the message and the row in TargetObject' {
        $csv = New-Csv "Prompt,Seed,Width`nfirst,1,128`nsecond,abc,128`nthird,3,100"
        $r = Invoke-Capture { Import-Csv $csv | New-WuerstchenImage -Height 128 -PriorSteps 2 -DecoderSteps 2 -OutputPath (Join-Path $TestDrive 'rows') }
        @($r.Output).Count | Should -Be 1
        $r.Errors.Count | Should -Be 2
        $r.Errors[0].Exception.Message | Should -Match "record 2 \(prompt 'second'\)"
        $r.Errors[1].Exception.Message | Should -Match "record 3 \(prompt 'third'\)"
        $r.Errors[1].TargetObject.Prompt | Should -Be 'third'
        $r.Errors[0].TargetObject.Prompt | Should -Be 'second'
    }
}

Describe 'Empty cells are not given' {
    It 'empty OutputPath and ModelPath cells keep their defaults' {
        $dir = Join-Path $TestDrive 'emptycells'
        $null = New-Item -ItemType Directory $dir
        Push-Location $dir
        try {
            $csv = New-Csv "Prompt,Seed,OutputPath,ModelPath`na fox,6,,"
            $r = Invoke-Capture { Import-Csv $csv | New-WuerstchenImage @Fast }
        } finally { Pop-Location }
        $r.Errors | Should -BeNullOrEmpty
        @($r.Output).Count | Should -Be 1
        $r.Output[0].DirectoryName | Should -Be (Get-Item $dir).FullName
    }

    It 'Test-WuerstchenModel -ModelPath of an unset variable -Quiet is $false under Stop' {
        $saved = $env:WUERSTCHEN_MODEL_PATH
        $env:WUERSTCHEN_MODEL_PATH = Join-Path $TestDrive 'no-such-model'
        try {
            $ErrorActionPreference = 'Stop'
            Test-WuerstchenModel -ModelPath $env:WUERSTCHEN_UNSET_IN_TESTS -Quiet | Should -BeFalse
            Test-WuerstchenModel -DeviceId 1.5 -Quiet | Should -BeFalse
        } finally { $env:WUERSTCHEN_MODEL_PATH = $saved }
    }
}

Describe 'New-WuerstchenImage -WhatIf' {
    It 'lists each name the real run writes, duplicate rows included' {
        $csv = New-Csv "Prompt,Seed`na fox,11`na fox,11"
        $dir = Join-Path $TestDrive 'whatif'
        # -WhatIf writes to the host: a transcript catches it
        $log = Join-Path $TestDrive 'whatif.log'
        $null = Start-Transcript -LiteralPath $log
        try { Import-Csv $csv | New-WuerstchenImage @Fast -OutputPath $dir -WhatIf } finally { $null = Stop-Transcript }
        $lines = Get-Content -LiteralPath $log | Where-Object { $_ -like 'What if:*' }
        $names = @($lines | ForEach-Object { if ($_ -match '"([^"]+\.png)"') { Split-Path $Matches[1] -Leaf } })
        $real = Import-Csv $csv | New-WuerstchenImage @Fast -OutputPath $dir
        $names | Should -Be $real.Name
    }

    It 'shortens a long prompt in its lines' {
        $log = Join-Path $TestDrive 'whatif-long.log'
        $null = Start-Transcript -LiteralPath $log
        try { New-WuerstchenImage ('a very long prompt ' * 20) @Fast -Seed 1 -OutputPath (Join-Path $TestDrive 'long') -WhatIf } finally { $null = Stop-Transcript }
        $line = Get-Content -LiteralPath $log | Where-Object { $_ -like 'What if:*' }
        $line | Should -Not -BeNullOrEmpty
        $line.Length | Should -BeLessThan 300 # the prompt is cut; the path stays whole
    }

    It 'reports a size the family refuses without loading a model' {
        $r = Invoke-Capture { New-WuerstchenImage 'a fox' -Width 1000 -Height 128 -WhatIf }
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'InvalidImageSize,*'
    }
}

Describe 'Measure-WuerstchenPrompt takes prompts as New-WuerstchenImage does' {
    It 'a pipeline object without a Prompt property is PromptPropertyMissing, not its text' {
        $r = Invoke-Capture { [pscustomobject]@{ prompt_text = 'a red fox' } | Measure-WuerstchenPrompt }
        $r.Output | Should -BeNullOrEmpty
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'PromptPropertyMissing,*'
    }
}

Describe 'Get-WuerstchenImageInfo' {
    BeforeAll {
        $script:Batch = Join-Path $TestDrive 'batch'
        $script:Made = New-WuerstchenImage 'a red fox', 'a blue bird' -ImagesPerPrompt 2 @Fast -Seed 12 -PriorGuidanceScale 3 -NegativePrompt 'blurry' -OutputPath $Batch
    }

    It 'an unreadable file among a wildcard is an error for that file and the others are still read' {
        $dir = Join-Path $TestDrive 'mixed-info'
        $null = New-Item -ItemType Directory $dir
        Copy-Item -LiteralPath $Made[0].FullName (Join-Path $dir 'a-good.png')
        $bytes = [IO.File]::ReadAllBytes($Made[0].FullName)
        [IO.File]::WriteAllBytes((Join-Path $dir 'b-truncated.png'), $bytes[0..200])
        $errors = $null
        $info = @(Get-WuerstchenImageInfo -Path (Join-Path $dir '*.png') -ErrorVariable errors -ErrorAction SilentlyContinue)
        $info.Count | Should -Be 1
        $info[0].Prompt | Should -Be 'a red fox'
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'InvalidImageFile*'
        $errors[0].Exception.Message | Should -BeLike '*b-truncated.png*'
    }

    It 'reads each image back as objects that New-WuerstchenImage makes again with the same pixels and names' {
        $info = @(Get-WuerstchenImageInfo (Join-Path $Batch '*.png'))
        $info.Count | Should -Be 4
        $again = $info | New-WuerstchenImage -OutputPath (Join-Path $TestDrive 'again')
        @($again).Count | Should -Be 4
        foreach ($f in $Made) {
            $twin = $again | Where-Object Name -eq $f.Name
            $twin | Should -Not -BeNullOrEmpty
            (Compare-Bytes (Get-Rgb $twin.FullName).Bytes (Get-Rgb $f.FullName).Bytes).Max | Should -Be 0
        }
    }

    It 'makes one image of a larger batch again on its own' {
        $one = $Made | Where-Object { $_.PromptIndex -eq 1 -and $_.ImageIndex -eq 1 }
        $again = Get-WuerstchenImageInfo -LiteralPath $one.FullName | New-WuerstchenImage -OutputPath (Join-Path $TestDrive 'single')
        @($again).Count | Should -Be 1
        $again.Name | Should -Be $one.Name
        (Compare-Bytes (Get-Rgb $again.FullName).Bytes (Get-Rgb $one.FullName).Bytes).Max | Should -Be 0
    }

    It 'takes relative, PSDrive and Get-ChildItem paths, and JPEG metadata' {
        Push-Location $Batch
        try { @(Get-WuerstchenImageInfo ./*.png).Count | Should -Be 4 } finally { Pop-Location }
        $null = New-PSDrive -Name WImg -PSProvider FileSystem -Root $Batch
        try { @(Get-WuerstchenImageInfo 'WImg:/*.png').Count | Should -Be 4 } finally { Remove-PSDrive WImg }
        @(Get-ChildItem $Batch -Filter *.png | Get-WuerstchenImageInfo).Count | Should -Be 4
        $jpg = New-WuerstchenImage 'a fox' @Fast -Seed 13 -OutputPath (Join-Path $TestDrive 'fox.jpg')
        $i = Get-WuerstchenImageInfo $jpg.FullName
        $i.Prompt | Should -Be 'a fox'
        $i.Seed | Should -Be 13
        $i.ImageFile | Should -Be $jpg.FullName
    }
}

Describe 'Export-WuerstchenEmbedding paths' {
    BeforeAll { $script:Emb = Get-WuerstchenEmbedding 'a fox' -Width 128 -Height 128 -PriorSteps 2 -Seed 1 }

    It 'an existing folder is PathIsFolder' {
        $dir = Join-Path $TestDrive 'embfolder'
        $null = New-Item -ItemType Directory $dir
        $r = Invoke-Capture { $Emb | Export-WuerstchenEmbedding -Path $dir }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'PathIsFolder,*'
        @(Get-ChildItem $dir).Count | Should -Be 0
    }

    It 'a .json data path (its own sidecar) is PathIsSidecar and nothing is written' {
        $path = Join-Path $TestDrive 'x.json'
        $r = Invoke-Capture { $Emb | Export-WuerstchenEmbedding -Path $path }
        $r.Output | Should -BeNullOrEmpty
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'PathIsSidecar,*'
        Test-Path $path | Should -BeFalse
    }

    It 'a name without extension gets .npy' {
        $out = $Emb | Export-WuerstchenEmbedding -Path (Join-Path $TestDrive 'noext')
        $out.Name | Should -Be 'noext.npy'
        Test-Path (Join-Path $TestDrive 'noext.npy') | Should -BeTrue
    }

    It 'a missing folder is named, not a temporary file' {
        $r = Invoke-Capture { $Emb | Export-WuerstchenEmbedding -Path (Join-Path $TestDrive 'missing/one.npy') }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'OutputFolderNotFound,*'
        $r.Errors[0].Exception.Message | Should -Match 'missing'
        $r.Errors[0].Exception.Message | Should -Not -Match '\.tmp'
    }
}

Describe 'New-WuerstchenImage names and hints' {
    It 'keeps letters of any script in file names' {
        $f = New-WuerstchenImage '東京の夜景, neon lights' @Fast -Seed 1 -OutputPath (Join-Path $TestDrive 'tokyo')
        $f.Name | Should -Be '東京の夜景-neon-lights-1-0.png'
    }

    It 'writes a negative seed without a double dash' {
        $f = New-WuerstchenImage 'a fox' @Fast -Seed -5 -OutputPath (Join-Path $TestDrive 'negseed')
        $f.Name | Should -Be 'a-fox-n5-0.png'
    }

    It 'a semicolon-separated CSV read with commas says to use -Delimiter' {
        $csv = New-Csv "Prompt;Seed`na fox;1"
        $r = Invoke-Capture { Import-Csv $csv | New-WuerstchenImage @Fast -OutputPath (Join-Path $TestDrive 'semi') }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'PromptPropertyMissing,*'
        $r.Errors[0].Exception.Message | Should -Match ([regex]::Escape("Import-Csv -Delimiter ';'"))
    }

    It 'warns that -NegativePrompt is ignored at guidance 1 or below' {
        $r = Invoke-Capture { New-WuerstchenImage 'a fox' @Fast -Seed 1 -NegativePrompt 'blurry' -PriorGuidanceScale 1 -OutputPath (Join-Path $TestDrive 'neg') }
        @($r.Output).Count | Should -Be 1
        @($r.Warnings | Where-Object { $_ -match 'NegativePrompt.*ignored' }).Count | Should -Be 1
    }
}

Describe 'New-WuerstchenImage output views' {
    It 'Format-List shows the generation parameters' {
        $f = New-WuerstchenImage 'a red fox' @Fast -Seed 1 -PriorGuidanceScale 3 -OutputPath (Join-Path $TestDrive 'list')
        $text = $f | Format-List | Out-String -Width 200
        $text | Should -Match 'Prompt\s+: a red fox'
        $text | Should -Match 'PriorGuidanceScale\s+: 3'
        $text | Should -Match 'Dimensions\s+: 128x128'
    }
}

Describe 'Help and first steps' {
    It 'documents the default of -Quality and keeps -ImagePath out of New-WuerstchenImage''s -Width' {
        (Get-Help New-WuerstchenImage -Parameter Quality).defaultValue | Should -Be '90'
        (Get-Help New-WuerstchenImage -Parameter Width).defaultValue | Should -Not -Match 'ImagePath'
        (Get-Help Get-WuerstchenEmbedding -Parameter Width).defaultValue | Should -Match 'ImagePath'
    }

    It 'has about_Wuerstchen' {
        (Get-Help about_Wuerstchen | Out-String) | Should -Match 'SkipExisting'
    }

    It 'runs the README''s CSV example on the shipped prompts.csv' {
        $csv = Join-Path $RepoRoot 'examples/prompts.csv'
        $out = Import-Csv $csv | New-WuerstchenImage -PriorSteps 1 -DecoderSteps 1 -Width 128 -Height 128 -OutputPath (Join-Path $TestDrive 'readme')
        @($out).Count | Should -Be 3
        $emb = Import-Csv $csv | Get-WuerstchenEmbedding -PriorSteps 1 -Width 128 -Height 128 | ConvertFrom-WuerstchenEmbedding -DecoderSteps 1 -OutputPath (Join-Path $TestDrive 'readme-emb')
        @($emb).Count | Should -Be 3
    }

    It 'the manifest names both model families' {
        (Test-ModuleManifest (Join-Path $ModulePath 'Wuerstchen.psd1')).Description | Should -Match 'Stable Cascade'
    }
}

Describe 'Test-WuerstchenModel results' {
    It 'name the family and give tokenizer folders their size' {
        $r = @(Test-WuerstchenModel)
        $r | ForEach-Object { $_.Family | Should -Be 'wuerstchen-v2' }
        $tok = @($r | Where-Object Stage -like '*Tokenizer')
        $tok.Count | Should -BeGreaterThan 0
        $tok | ForEach-Object { $_.SizeBytes | Should -BeGreaterThan 0 }
        ($r | Out-String) | Should -Match 'Family: wuerstchen-v2'
    }
}
