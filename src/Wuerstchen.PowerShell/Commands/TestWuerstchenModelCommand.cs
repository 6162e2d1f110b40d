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
    /// <summary>The model folder to check (positional); else $env:WUERSTCHEN_MODEL_PATH, else the default folder.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [AllowEmptyString]
    [RequestValue("ModelPath")]
    [ArgumentCompleter(typeof(FolderCompleter))]
    public override string? ModelPath { get; set; }

    /// <summary>Returns only $true or $false (all required stages valid).</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    /// <summary>With -Quiet a value that does not parse is not an error either: ProcessRecord answers $false for it.</summary>
    protected override void BeginProcessing()
    {
        if (!Quiet)
        {
            base.BeginProcessing();
        }
    }

    protected override void ProcessRecord()
    {
        if (BindingFailures.Take() is { Count: > 0 } failures)
        {
            // a gate answers $false for a value it cannot read, as for any other problem
            if (Quiet)
            {
                WriteVerbose($"{failures[0].ErrorId}: {failures[0].Message}");
                WriteObject(false);
            }
            else
            {
                failures.ToList().ForEach(WriteEngineError);
            }

            return;
        }

        if (Quiet)
        {
            ProcessQuiet();
            return;
        }

        Guarded(() => Report(Check()), ModelPath);
    }

    /// <summary>
    /// -Quiet is a gate for scripts (`if (-not (Test-WuerstchenModel -Quiet))`): exactly one boolean and no
    /// error for every kind of problem — a missing folder or an unreadable model_index.json included, which
    /// would otherwise end the script under $ErrorActionPreference = 'Stop'. The reason goes to -Verbose.
    /// </summary>
    private void ProcessQuiet()
    {
        bool ok;
        try
        {
            ok = Report(Check());
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
    }

    private IReadOnlyList<ModelCheckResult> Check()
    {
        const string activity = "Test-WuerstchenModel";
        WriteProgress(new ProgressRecord(1, activity, "Opening the model folder") { PercentComplete = 0 });
        var model = OpenModel();
        WriteProgress(new ProgressRecord(1, activity, $"Loading and checking the networks of '{model.Root}'") { PercentComplete = 10 });
        try
        {
            return RunEngine(context =>
            {
                context.WriteVerbose($"Execution provider: {ExecutionProvider ?? ExecutionProviderKind.Auto}, device {DeviceId ?? 0}.");
                return ModelValidator.Check(model, Execution, warn: m => Warn(context, m), ct: context.Cancellation);
            });
        }
        finally
        {
            WriteProgress(new ProgressRecord(1, activity, "done") { PercentComplete = 100, RecordType = ProgressRecordType.Completed });
        }
    }

    /// <summary>Writes the results (and an error per required problem) unless -Quiet; true when all required stages are valid.</summary>
    private bool Report(IReadOnlyList<ModelCheckResult> results)
    {
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
                if (!Quiet)
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
