using System.Management.Automation;
using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

/// <summary>
/// <para type="synopsis">Clears the ONNX Runtime sessions this PowerShell process has cached.</para>
/// </summary>
[Cmdlet(VerbsCommon.Clear, "WuerstchenCache")]
[OutputType(typeof(int))]
public sealed class ClearWuerstchenCacheCommand : PSCmdlet
{
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void EndProcessing()
    {
        int removed = SessionCache.Shared.Clear();
        SessionCache.Shared.Buffers.Clear();
        WriteVerbose($"Released {removed} cached session(s).");
        if (PassThru)
        {
            WriteObject(removed);
        }
    }
}
