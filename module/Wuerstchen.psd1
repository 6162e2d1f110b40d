@{
    RootModule           = 'Wuerstchen.PowerShell.dll'
    ModuleVersion        = '0.1.0'
    CompatiblePSEditions = @('Core')
    GUID                 = '5d3f6a2e-8c41-4f0b-9e57-2b1c7d9a6e10'
    Author               = 'Wuerstchen.PowerShell contributors'
    CompanyName          = 'Wuerstchen.PowerShell'
    Copyright            = '(c) Wuerstchen.PowerShell contributors. MIT licence.'
    Description          = 'Text-to-image generation with the Würstchen v2 diffusion model (prior, decoder and VQGAN as separate ONNX Runtime sessions), as binary cmdlets.'
    PowerShellVersion    = '7.4'
    FormatsToProcess     = @('Wuerstchen.format.ps1xml')
    CmdletsToExport      = @(
        'New-WuerstchenImage'
        'Get-WuerstchenEmbedding'
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
            Tags       = @('Wuerstchen', 'Diffusion', 'TextToImage', 'ONNX', 'AI', 'Image')
            LicenseUri = 'https://opensource.org/licenses/MIT'
        }
    }
}
