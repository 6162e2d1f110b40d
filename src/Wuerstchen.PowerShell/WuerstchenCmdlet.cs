using System.Collections.Concurrent;
using System.Management.Automation;
using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

/// <summary>
/// Shared plumbing of the cmdlets: engine work runs on a worker thread while the pipeline thread carries out
/// its requests (output, errors, progress, warnings, verbose text, ShouldProcess) as they arrive; Ctrl+C
/// (StopProcessing) cancels it within one network call; engine errors become ErrorRecords with stable ids and
/// the offending value.
/// </summary>
public abstract class WuerstchenCmdlet : PSCmdlet
{
    private readonly CancellationTokenSource _cancel = new();

    // Ctrl+C: cancels the engine work within one network call. The source is never disposed: StopProcessing may
    // come at any time, also after this cmdlet's EndProcessing (a later pipeline stage still running).
    protected override void StopProcessing() => _cancel.Cancel();

    /// <summary>
    /// Runs engine work on a worker thread; this (the pipeline) thread carries out the worker's requests until
    /// it ends, so each output is emitted as soon as the worker has it.
    /// </summary>
    protected T RunEngine<T>(Func<EngineContext, T> work)
    {
        using var queue = new BlockingCollection<PipelineRequest>();
        var context = new EngineContext(queue, Dispatch, _cancel.Token);
        var task = Task.Run(() =>
        {
            try
            {
                return work(context);
            }
            finally
            {
                queue.CompleteAdding();
            }
        });
        try
        {
            foreach (var request in queue.GetConsumingEnumerable())
            {
                bool answer = Dispatch(request);
                request.Reply?.TrySetResult(answer);
            }
        }
        catch
        {
            // a pipeline-thread request failed (WriteProgress after Ctrl+C, -WarningAction Stop, a later command
            // stopping the pipeline …): stop the worker and wait for it (at most one network call), so nothing
            // runs or writes after the cmdlet has returned
            _cancel.Cancel();
            try
            {
                task.Wait();
            }
            catch (AggregateException)
            {
                // the worker's own outcome (cancelled, failed) is superseded by the pipeline thread's exception
            }

            throw;
        }

        try
        {
            return task.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
    }

    /// <summary>Carries out one request of the worker on the pipeline thread; the answer matters only for ShouldProcess.</summary>
    private bool Dispatch(PipelineRequest request)
    {
        switch (request.Kind)
        {
            case PipelineRequestKind.Output:
                WriteObject(request.Value);
                return true;
            case PipelineRequestKind.File:
                WriteObject(ProviderPaths.FileItem(this, (string)request.Value, request.Properties));
                return true;
            case PipelineRequestKind.Error:
                WriteEngineError((WuerstchenException)request.Value);
                return true;
            case PipelineRequestKind.Warning:
                WriteWarning((string)request.Value);
                return true;
            case PipelineRequestKind.Verbose:
                WriteVerbose((string)request.Value);
                return true;
            case PipelineRequestKind.Progress:
                WriteProgress((ProgressRecord)request.Value);
                return true;
            case PipelineRequestKind.ShouldProcess:
                return ShouldProcess((string)request.Value, request.Action ?? "");
            default:
                throw new ArgumentOutOfRangeException(nameof(request), request.Kind, "Unknown pipeline request.");
        }
    }

    /// <summary>Writes an engine failure as a non-terminating error (the next pipeline row still runs).</summary>
    protected void WriteEngineError(WuerstchenException ex) => WriteError(WithRecordContext(ToErrorRecord(ex)));

    /// <summary>
    /// A value given at the command line (or by $PSDefaultParameterValues) that does not parse is an error for the whole
    /// call, before any record runs; pipeline values are reported per record (<see cref="BindingFailures"/>).
    /// </summary>
    protected override void BeginProcessing()
    {
        if (BindingFailures.Take() is { Count: > 0 } failures)
        {
            ThrowTerminatingError(ToErrorRecord(failures[0]));
        }
    }

    /// <summary>Reports the values of this pipeline record that did not parse; true when there were any (skip the record).</summary>
    protected bool ReportBindingFailures()
    {
        var failures = BindingFailures.Take();
        foreach (var failure in failures)
        {
            WriteEngineError(failure);
        }

        return failures.Count > 0;
    }

    /// <summary>Which pipeline record is being worked on ("Pipeline record 3 (prompt '…')"), for error messages; null when none.</summary>
    protected internal string? RecordContext { get; set; }

    /// <summary>The pipeline record being worked on (a CSV row, a text), the TargetObject of its errors; null when none.</summary>
    protected internal object? RecordTarget { get; set; }

    /// <summary>
    /// Puts <see cref="RecordContext"/> into the message of an error (CI logs print $_.Exception.Message, so the row must
    /// be there, not only in ErrorDetails) and makes the record its TargetObject; the error id and category stay.
    /// </summary>
    internal ErrorRecord WithRecordContext(ErrorRecord record)
    {
        if (RecordContext is not { } context)
        {
            return record;
        }

        string message = $"{context}: {record.Exception.Message}";
        Exception exception = record.Exception is WuerstchenException w
            ? new WuerstchenException(w.ErrorId, w.Kind, message, w.Target, w)
            : new InvalidOperationException(message, record.Exception);
        string id = record.FullyQualifiedErrorId.Split(',')[0];
        return new ErrorRecord(exception, id, record.CategoryInfo.Category, RecordTarget ?? record.TargetObject)
        {
            ErrorDetails = new ErrorDetails(message),
        };
    }

    // Every text the module's cmdlets show goes through the five methods below (they hide Cmdlet's own for every class
    // derived from this one): a file name, a file's content or a CSV cell can hold terminal escapes (ESC ] 0 ; … sets
    // the window title, ESC [ 2 J clears the screen), which are shown as \x1B …, never sent to the terminal.

    /// <summary>Cmdlet.WriteError with the message and target name shown (<see cref="Shown"/>).</summary>
    protected new void WriteError(ErrorRecord record) => base.WriteError(Shown(record));

    /// <summary>Cmdlet.ThrowTerminatingError with the message and target name shown.</summary>
    protected new void ThrowTerminatingError(ErrorRecord record) => base.ThrowTerminatingError(Shown(record));

    /// <summary>Cmdlet.WriteWarning with control characters shown.</summary>
    protected new void WriteWarning(string text) => base.WriteWarning(Core.IO.TextExcerpt.Visible(text));

    /// <summary>Cmdlet.WriteVerbose with control characters shown.</summary>
    protected new void WriteVerbose(string text) => base.WriteVerbose(Core.IO.TextExcerpt.Visible(text));

    /// <summary>Cmdlet.ShouldProcess (the -WhatIf and -Confirm lines) with control characters shown.</summary>
    protected new bool ShouldProcess(string target, string action) =>
        base.ShouldProcess(Core.IO.TextExcerpt.Visible(target), Core.IO.TextExcerpt.Visible(action));

    /// <summary>
    /// The record with its message (and ErrorDetails) and its category's target name shown: control characters as
    /// escapes. The exception keeps its type and the original as its inner exception; the TargetObject stays the value.
    /// </summary>
    internal static ErrorRecord Shown(ErrorRecord record)
    {
        string message = record.Exception.Message, visible = Core.IO.TextExcerpt.Visible(message);
        string? details = record.ErrorDetails?.Message, target = record.CategoryInfo.TargetName;
        if (ReferenceEquals(message, visible) && ReferenceEquals(details, Core.IO.TextExcerpt.Visible(details)) && ReferenceEquals(target, Core.IO.TextExcerpt.Visible(target)))
        {
            return record;
        }

        Exception exception = record.Exception is WuerstchenException w
            ? new WuerstchenException(w.ErrorId, w.Kind, visible, w.Target, w)
            : ReferenceEquals(message, visible) ? record.Exception : new InvalidOperationException(visible, record.Exception);
        var shown = new ErrorRecord(exception, record.FullyQualifiedErrorId.Split(',')[0], record.CategoryInfo.Category, record.TargetObject);
        if (details is not null)
        {
            shown.ErrorDetails = new ErrorDetails(Core.IO.TextExcerpt.Visible(details));
        }

        shown.CategoryInfo.TargetName = Core.IO.TextExcerpt.Of(target, 200);
        return shown;
    }

    public static ErrorRecord ToErrorRecord(WuerstchenException ex)
    {
        var category = ex.Kind switch
        {
            WuerstchenErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
            WuerstchenErrorKind.ObjectNotFound => ErrorCategory.ObjectNotFound,
            WuerstchenErrorKind.InvalidData => ErrorCategory.InvalidData,
            WuerstchenErrorKind.WriteError => ErrorCategory.WriteError,
            WuerstchenErrorKind.NotInstalled => ErrorCategory.NotInstalled,
            WuerstchenErrorKind.PermissionDenied => ErrorCategory.PermissionDenied,
            _ => ErrorCategory.InvalidOperation,
        };
        return Shown(new ErrorRecord(ex, ex.ErrorId, category, ex.Target));
    }

    /// <summary>
    /// Runs one unit of work (one pipeline record): engine errors and unexpected failures become
    /// non-terminating errors, Ctrl+C stops the pipeline; the host never sees a raw exception.
    /// </summary>
    protected void Guarded(Action action, object? target)
    {
        try
        {
            action();
        }
        catch (WuerstchenException ex)
        {
            WriteEngineError(ex);
        }
        catch (PipelineStoppedException)
        {
            throw;
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
        catch (Exception ex) when (ex is not (OutOfMemoryException or StackOverflowException or AccessViolationException))
        {
            if (ex is InsufficientExecutionStackException or ActionPreferenceStopException)
            {
                throw;
            }

            WriteError(WithRecordContext(new ErrorRecord(new InvalidOperationException($"{MyInvocation.MyCommand.Name} failed: {ex.Message}", ex),
                "WuerstchenUnexpectedError", ErrorCategory.NotSpecified, target)));
        }
    }
}
