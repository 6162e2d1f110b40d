@{
    # The cmdlets. The loader (NestedModules, imported first) puts the engine and its dependencies, which live in
    # dependencies/, into the module's own AssemblyLoadContext, so other versions of them in the session do not clash.
    RootModule           = 'Wuerstchen.PowerShell.dll'
    NestedModules        = @('Wuerstchen.PowerShell.Loader.dll')
    # The one place the version comes from: build.ps1 -Task Package and CHANGELOG.md follow it.
    ModuleVersion        = '0.5.0'
    CompatiblePSEditions = @('Core')
    GUID                 = '5d3f6a2e-8c41-4f0b-9e57-2b1c7d9a6e10'
    Author               = 'Wuerstchen.PowerShell contributors'
    CompanyName          = 'Wuerstchen.PowerShell'
    Copyright            = '(c) Wuerstchen.PowerShell contributors. MIT licence.'
    Description          = 'Text-to-image generation with the Würstchen v2 and Stable Cascade (Würstchen v3) diffusion models on ONNX Runtime, as binary cmdlets: prior, decoder and VQGAN run as separate sessions and can be piped on their own; seeds are torch-compatible, results match diffusers. Runs on the CPU on Windows x64, Linux x64 and macOS arm64; CUDA with the Wuerstchen.Cuda.Linux or Wuerstchen.Cuda.Windows companion module.'
    PowerShellVersion    = '7.4'
    FormatsToProcess     = @('Wuerstchen.format.ps1xml')
    CmdletsToExport      = @(
        'New-WuerstchenImage'
        'Get-WuerstchenEmbedding'
        'Get-WuerstchenImageInfo'
        'ConvertFrom-WuerstchenEmbedding'
        'Export-WuerstchenEmbedding'
        'Import-WuerstchenEmbedding'
        'Measure-WuerstchenPrompt'
        'Test-WuerstchenModel'
        'Clear-WuerstchenCache'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('Wuerstchen', 'Diffusion', 'TextToImage', 'ImageGeneration', 'ONNX', 'OnnxRuntime', 'AI', 'Image', 'PSEdition_Core', 'Windows', 'Linux', 'MacOS')
            # ProjectUri / LicenseUri: the intended public address; this repository has no remote yet, so replace both
            # with the real one before the first Publish-PSResource to the PowerShell Gallery.
            ProjectUri   = 'https://github.com/wuerstchen-powershell/Wuerstchen.PowerShell'
            LicenseUri   = 'https://github.com/wuerstchen-powershell/Wuerstchen.PowerShell/blob/main/LICENSE'
            ReleaseNotes = 'See CHANGELOG.md in the module folder or the project site. 0.5.0: the real models at their real size (exporter fixed for networks over 2 GB, memory-mapped weights, faster loads), one generation request from every way in (CSV, pipeline, file metadata; -SkipExisting, Get-WuerstchenImageInfo), bounded reads and requests, CUDA companion packages. 0.4.0: output formats by extension (.png, .jpg, .webp), wildcard/-LiteralPath paths, provider FileInfo outputs streamed as written, -Verbose diagnostics, specific errors for ordinary mistakes, Stable Cascade fp16 export. 0.3.0: Stable Cascade (Würstchen v3) through the same cmdlets. 0.2.0: installable package (Install-PSResource), dependencies isolated in their own AssemblyLoadContext, CUDA through a companion module.'
        }
    }
}
