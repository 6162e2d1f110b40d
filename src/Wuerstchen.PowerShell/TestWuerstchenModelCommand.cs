using System.Management.Automation;
using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

/// <summary>
/// <para type="synopsis">Checks a model folder against the model contract and returns one result per stage.</para>
/// Every problem is also written as an error naming the file, the expected and the found value.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "WuerstchenModel")]
[OutputType(typeof(ModelCheckResult))]
public sealed class TestWuerstchenModelCommand : NetworkCmdlet
{
    /// <summary>Returns only $true or $false (all required stages valid).</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override void ProcessRecord()
    {
        if (Quiet)
        {
            // a gate for `if (-not (Test-WuerstchenModel -Quiet))`: exactly one boolean and no error, whatever the
            // problem (missing folder, unreadable model_index.json …), so it also works under ErrorAction Stop
            bool ok;
            try
            {
                ok = Check();
            }
            catch (WuerstchenException ex)
            {
                WriteVerbose($"{ex.ErrorId}: {ex.Message}");
                ok = false;
            }
            catch (OperationCanceledException)
            {
                throw new PipelineStoppedException();
            }

            WriteObject(ok);
            return;
        }

        Guarded(() => Check(), ModelPath);
    }

    /// <summary>Checks the folder; writes results and errors unless -Quiet (then problems go to the verbose stream).</summary>
    private bool Check()
    {
        {
            var model = OpenModel();
            var results = RunEngine(context =>
            {
                var pipeline = CreatePipeline(model, context, 1, "Test-WuerstchenModel");
                return ModelValidator.Check(model, pipeline.Execution, warn: m => context.Post(() => WriteWarning(m)), ct: context.Cancellation);
            });
            bool ok = true;
            foreach (var r in results)
            {
                foreach (var p in r.Problems)
                {
                    bool required = !(r.Optional && r.Status == ModelCheckStatus.Missing);
                    if (!required)
                    {
                        WriteVerbose(p.Message);
                        continue;
                    }

                    ok = false;
                    if (Quiet)
                    {
                        WriteVerbose(p.Message);
                    }
                    else
                    {
                        var kind = r.Status == ModelCheckStatus.Missing ? ErrorCategory.ObjectNotFound : ErrorCategory.InvalidData;
                        WriteError(new ErrorRecord(new WuerstchenException(p.ErrorId, WuerstchenErrorKind.InvalidData,
                            $"{p.Message} (expected: {p.Expected}; found: {p.Found})", p.Path), p.ErrorId, kind, p.Path));
                    }
                }

                if (!Quiet)
                {
                    WriteObject(r);
                }
            }

            return ok;
        }
    }
}
