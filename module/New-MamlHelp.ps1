<#
.SYNOPSIS
    Generates the module's MAML help (en-US/Wuerstchen.PowerShell.dll-Help.xml) from help/Wuerstchen.help.psd1
    and the cmdlets' own parameter metadata. Run by build.ps1 in a child pwsh after the module is built.
#>
param([Parameter(Mandatory)] [string] $ModuleFolder)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
$content = Import-PowerShellDataFile (Join-Path $PSScriptRoot 'help/Wuerstchen.help.psd1')
$module = Import-Module (Join-Path $ModuleFolder 'Wuerstchen.psd1') -PassThru -Force
function X([string] $s) { [System.Security.SecurityElement]::Escape($s) }
function Paras([string] $text) {
    ($text -split "`r?`n`r?`n" | Where-Object { $_.Trim() } | ForEach-Object { "<maml:para>$(X ($_.Trim() -replace '\s*\r?\n\s*', ' '))</maml:para>" }) -join ''
}
$common = [System.Management.Automation.Cmdlet]::CommonParameters + @('UseTransaction')   # -WhatIf/-Confirm are documented
$sb = [System.Text.StringBuilder]::new()
$null = $sb.AppendLine('<?xml version="1.0" encoding="utf-8"?>')
$null = $sb.AppendLine('<helpItems schema="maml" xmlns="http://msh">')
foreach ($name in ($module.ExportedCmdlets.Keys | Sort-Object)) {
    $cmd = Get-Command $name
    $help = $content[$name]
    if (-not $help) { throw "No help content for $name in help/Wuerstchen.help.psd1." }
    $verb, $noun = $name -split '-', 2
    $null = $sb.AppendLine('<command:command xmlns:maml="http://schemas.microsoft.com/maml/2004/10" xmlns:command="http://schemas.microsoft.com/maml/dev/command/2004/10" xmlns:dev="http://schemas.microsoft.com/maml/dev/2004/10">')
    $null = $sb.AppendLine("<command:details><command:name>$name</command:name><command:verb>$verb</command:verb><command:noun>$noun</command:noun><maml:description>$(Paras $help.Synopsis)</maml:description></command:details>")
    $null = $sb.AppendLine("<maml:description>$(Paras $help.Description)</maml:description>")

    function ParamXml($p, $attrs, [bool] $withDescription) {
        $pipe = @()
        if ($attrs.ValueFromPipeline) { $pipe += 'ByValue' }
        if ($attrs.ValueFromPipelineByPropertyName) { $pipe += 'ByPropertyName' }
        $pipeText = if ($pipe) { "True ($($pipe -join ', '))" } else { 'False' }
        $pos = if ($attrs.Position -ge 0) { $attrs.Position } else { 'named' }
        $type = $p.ParameterType.Name -replace 'Nullable`1', ($p.ParameterType.GenericTypeArguments | Select-Object -First 1 -ExpandProperty Name)
        $isSwitch = $p.ParameterType -eq [switch]
        $globbing = [bool]($p.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })
        $x = "<command:parameter required=`"$($attrs.Mandatory.ToString().ToLower())`" variableLength=`"true`" globbing=`"$($globbing.ToString().ToLower())`" pipelineInput=`"$pipeText`" position=`"$pos`" aliases=`"$(($p.Aliases -join ', '))`"><maml:name>$($p.Name)</maml:name>"
        if ($withDescription) {
            $d = if ($help.ContainsKey('Parameters') -and $help.Parameters.ContainsKey($p.Name)) { $help.Parameters[$p.Name] } elseif ($content.CommonParameters.ContainsKey($p.Name)) { $content.CommonParameters[$p.Name] } else { throw "No help for -$($p.Name) of $name." }
            $x += "<maml:description>$(Paras $d)</maml:description>"
        }
        if (-not $isSwitch) { $x += "<command:parameterValue required=`"true`" variableLength=`"false`">$(X $type)</command:parameterValue>" }
        $x += "<dev:type><maml:name>$(X $p.ParameterType.FullName)</maml:name></dev:type>"
        if ($withDescription) {
            $default = if ($isSwitch) { 'False' } elseif ($help.ContainsKey('Defaults') -and $help.Defaults.ContainsKey($p.Name)) { $help.Defaults[$p.Name] } elseif ($content.Defaults.ContainsKey($p.Name)) { $content.Defaults[$p.Name] } else { 'None' }
            $x += "<dev:defaultValue>$(X $default)</dev:defaultValue>"
        }
        $x + '</command:parameter>'
    }

    $null = $sb.AppendLine('<command:syntax>')
    foreach ($set in $cmd.ParameterSets) {
        $null = $sb.Append("<command:syntaxItem><maml:name>$name</maml:name>")
        foreach ($p in $set.Parameters | Where-Object Name -notin $common) {
            $attrs = [pscustomobject]@{ Mandatory = $p.IsMandatory; Position = $p.Position; ValueFromPipeline = $p.ValueFromPipeline; ValueFromPipelineByPropertyName = $p.ValueFromPipelineByPropertyName }
            $meta = $cmd.Parameters[$p.Name]
            $null = $sb.Append((ParamXml $meta $attrs $false))
        }
        $null = $sb.AppendLine('</command:syntaxItem>')
    }
    $null = $sb.AppendLine('</command:syntax><command:parameters>')
    foreach ($meta in ($cmd.Parameters.Values | Where-Object Name -notin $common | Sort-Object Name)) {
        $a = $meta.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] }
        $attrs = [pscustomobject]@{
            Mandatory = [bool]($a | Where-Object Mandatory)
            Position = ($a | Measure-Object -Property Position -Maximum).Maximum
            ValueFromPipeline = [bool]($a | Where-Object ValueFromPipeline)
            ValueFromPipelineByPropertyName = [bool]($a | Where-Object ValueFromPipelineByPropertyName)
        }
        $null = $sb.AppendLine((ParamXml $meta $attrs $true))
    }
    $null = $sb.AppendLine('</command:parameters>')
    $null = $sb.AppendLine("<command:inputTypes><command:inputType><dev:type><maml:name>$(X $help.Inputs)</maml:name></dev:type><maml:description /></command:inputType></command:inputTypes>")
    $null = $sb.AppendLine("<command:returnValues><command:returnValue><dev:type><maml:name>$(X $help.Outputs)</maml:name></dev:type><maml:description /></command:returnValue></command:returnValues>")
    # Related commands go into the notes, not into relatedLinks: Get-Help promises "-Online" whenever relatedLinks
    # exist, and this module has no online help (no HelpUri) to keep that promise.
    $notes = @(if ($help.ContainsKey('Notes')) { $help.Notes }) + @(if ($help.ContainsKey('Links') -and $help.Links) { 'Related commands: ' + ($help.Links -join ', ') + '.' })
    if ($notes) { $null = $sb.AppendLine("<maml:alertSet><maml:alert>$(Paras ($notes -join "`n`n"))</maml:alert></maml:alertSet>") }
    $null = $sb.AppendLine('<command:examples>')
    $i = 0
    foreach ($ex in $help.Examples) {
        $i++
        $null = $sb.AppendLine("<command:example><maml:title>-------------------------- Example ${i}: $(X $ex.Title) --------------------------</maml:title><dev:code>$(X $ex.Code.Trim())</dev:code><dev:remarks>$(Paras $ex.Remarks)</dev:remarks></command:example>")
    }
    $null = $sb.AppendLine('</command:examples>')
    $null = $sb.AppendLine('</command:command>')
}
$null = $sb.AppendLine('</helpItems>')
$target = Join-Path $ModuleFolder 'en-US'
$null = New-Item -ItemType Directory $target -Force
$path = Join-Path $target 'Wuerstchen.PowerShell.dll-Help.xml'
[System.IO.File]::WriteAllText($path, $sb.ToString(), [System.Text.UTF8Encoding]::new($false))
[xml] (Get-Content $path -Raw) | Out-Null   # well-formed
Write-Host "Help written: $path"
