# Shared set-up for the Pester tests: imports the built module and points it at the stand-in models.
$ErrorActionPreference = 'Stop'
$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
$script:ModulePath = if ($env:WUERSTCHEN_TEST_MODULE) { $env:WUERSTCHEN_TEST_MODULE } else { Join-Path $RepoRoot 'out/Wuerstchen' }
$script:Models = Join-Path $RepoRoot 'models/standin'
$script:ParityDir = Join-Path $RepoRoot 'tests/Wuerstchen.Core.Tests/data/parity'
# the networks the parity answers were made with: the set's own folder if it brings one, else the stand-ins
$script:ParityModels = if (Test-Path (Join-Path $ParityDir 'models')) { Join-Path $ParityDir 'models' } else { $Models }
Import-Module (Join-Path $ModulePath 'Wuerstchen.psd1') -Force
$PSDefaultParameterValues['*-Wuerstchen*:ExecutionProvider'] = 'Cpu'
$PSDefaultParameterValues['*-Wuerstchen*:ModelPath'] = $Models
$PSDefaultParameterValues.Remove('Clear-WuerstchenCache:ModelPath')
$PSDefaultParameterValues.Remove('Clear-WuerstchenCache:ExecutionProvider')
$PSDefaultParameterValues.Remove('Export-WuerstchenEmbedding:ExecutionProvider')
$PSDefaultParameterValues.Remove('Import-WuerstchenEmbedding:ExecutionProvider')
$PSDefaultParameterValues.Remove('Measure-WuerstchenPrompt:ExecutionProvider')

# The main package's .nupkg as build.ps1 wrote it (out/packages, beside the package folder out/package/Wuerstchen that
# WUERSTCHEN_TEST_PACKAGE names): a folder of such files is a PSResource repository.
function Get-TestPackageFile([string] $PackageStage) {
    $version = (Import-PowerShellDataFile (Join-Path $PackageStage 'Wuerstchen.psd1')).ModuleVersion
    Join-Path (Split-Path (Split-Path $PackageStage)) "packages/Wuerstchen.$version.nupkg"
}

function Get-Rgb([string] $Path) {
    $w = 0; $h = 0
    $rgb = [Wuerstchen.Core.IO.PngImage]::ReadRgb($Path, [ref] $w, [ref] $h)
    [pscustomobject]@{ Width = $w; Height = $h; Bytes = $rgb }
}

function Get-ParityJob([string] $Name) {
    $job = (Get-Content (Join-Path $ParityDir 'jobs.json') -Raw | ConvertFrom-Json -AsHashtable)[$Name]
    $p = @{ Prompt = [string[]] $job.prompts; Seed = [long] $job.seed; Width = $job.width; Height = $job.height }
    if ($job.ContainsKey('n')) { $p.ImagesPerPrompt = $job.n }
    if ($job.ContainsKey('negative')) { $p.NegativePrompt = $job.negative }
    if ($job.ContainsKey('prior_steps')) { $p.PriorSteps = $job.prior_steps }
    if ($job.ContainsKey('prior_timesteps')) { $p.PriorTimesteps = [float[]] $job.prior_timesteps }
    if ($job.ContainsKey('prior_guidance')) { $p.PriorGuidanceScale = $job.prior_guidance }
    if ($job.ContainsKey('decoder_steps')) { $p.DecoderSteps = $job.decoder_steps }
    if ($job.ContainsKey('decoder_timesteps')) { $p.DecoderTimesteps = [float[]] $job.decoder_timesteps }
    if ($job.ContainsKey('decoder_guidance')) { $p.DecoderGuidanceScale = $job.decoder_guidance }
    $p
}

if (-not ('PesterByteCompare' -as [type])) {
    Add-Type -TypeDefinition @'
public static class PesterByteCompare {
    // max |a-b| and how many values differ by more than 1
    public static int[] Compare(byte[] a, byte[] b) {
        if (a.Length != b.Length) return new[] { 256, a.Length, a.Length };
        int max = 0, over = 0;
        for (int i = 0; i < a.Length; i++) { int d = System.Math.Abs(a[i] - b[i]); if (d > max) max = d; if (d > 1) over++; }
        return new[] { max, over, a.Length };
    }
}
'@
}

function Compare-Bytes([byte[]] $Actual, [byte[]] $Expected) {
    $r = [PesterByteCompare]::Compare($Actual, $Expected)
    [pscustomobject]@{ Max = $r[0]; Over1 = $r[1]; Count = $r[2] }
}

# A CSV file in TestDrive holding $Text (a new name each call).
function New-Csv([string] $Text) {
    $path = Join-Path $TestDrive "rows-$([guid]::NewGuid().ToString('n')).csv"
    Set-Content -LiteralPath $path $Text
    $path
}

# max |a - b| / max |b| over float arrays (the realarch kit's embedding measure)
function Get-RelativeError([float[]] $Actual, [float[]] $Expected) {
    $max = 0.0; $scale = 0.0
    for ($i = 0; $i -lt $Expected.Length; $i++) {
        $d = [math]::Abs($Actual[$i] - $Expected[$i]); if ($d -gt $max) { $max = $d }
        $e = [math]::Abs($Expected[$i]); if ($e -gt $scale) { $scale = $e }
    }
    $max / $scale
}

# Runs a script block under the default ErrorActionPreference (Continue) and sorts what it wrote.
function Invoke-Capture([scriptblock] $Script) {
    $ErrorActionPreference = 'Continue'
    $all = try { & $Script 2>&1 3>&1 } catch { $_ }
    [pscustomobject]@{
        Output   = @($all | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] -and $_ -isnot [System.Management.Automation.WarningRecord] })
        Errors   = @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
        Warnings = @($all | Where-Object { $_ -is [System.Management.Automation.WarningRecord] } | ForEach-Object Message)
    }
}
