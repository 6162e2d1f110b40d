using System.Collections.Concurrent;
using System.Management.Automation;
using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

/// <summary>
/// Shared plumbing of the cmdlets: engine work runs on a worker thread while the pipeline thread writes
/// its progress and warnings; Ctrl+C (StopProcessing) cancels it within one network call; engine errors
/// become ErrorRecords with stable ids and the offending value.
/// </summary>
public abstract class WuerstchenCmdlet : PSCmdlet
{
    private readonly CancellationTokenSource _cancel = new();

    /// <summary>The model folder; else $env:WUERSTCHEN_MODEL_PATH, else the default folder.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? ModelPath { get; set; }

    /// <summary>Where models are looked for when neither -ModelPath nor $env:WUERSTCHEN_MODEL_PATH is set.</summary>
    public static string DefaultModelPath => Path.Combine(
        Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify),
        "Wuerstchen", "models", "wuerstchen-v2");

    // Ctrl+C: cancels the engine work within one network call. The source is never disposed: StopProcessing may
    // come at any time, also after this cmdlet's EndProcessing (a later pipeline stage still running).
    protected override void StopProcessing() => _cancel.Cancel();

    /// <summary>Resolves the model folder (provider-aware) and opens it.</summary>
    protected ModelFolder OpenModel()
    {
        string path;
        string? source = null;
        if (!string.IsNullOrEmpty(ModelPath))
        {
            path = GetUnresolvedProviderPathFromPSPath(ModelPath);
        }
        else if (Environment.GetEnvironmentVariable("WUERSTCHEN_MODEL_PATH") is { } env && !string.IsNullOrWhiteSpace(env))
        {
            // a whitespace-only value (an empty-looking CI variable) counts as unset instead of a folder named '   '
            path = GetUnresolvedProviderPathFromPSPath(env.Trim());
            source = "$env:WUERSTCHEN_MODEL_PATH";
        }
        else
        {
            path = DefaultModelPath;
            source = "the default model folder (neither -ModelPath nor $env:WUERSTCHEN_MODEL_PATH is set)";
        }

        try
        {
            return ModelFolder.Open(path);
        }
        catch (WuerstchenException ex) when (ex.Kind == WuerstchenErrorKind.ObjectNotFound && source is not null)
        {
            // say where the path came from: a stale variable in a CI job is otherwise hard to spot
            throw new WuerstchenException(ex.ErrorId, ex.Kind, $"{ex.Message} The path came from {source}.", ex.Target, ex);
        }
    }

    /// <summary>Runs engine work on a worker thread, pumping its progress and warnings on the pipeline thread.</summary>
    protected T RunEngine<T>(Func<EngineContext, T> work)
    {
        using var queue = new BlockingCollection<Action>();
        var context = new EngineContext(queue, _cancel.Token);
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
            foreach (var action in queue.GetConsumingEnumerable())
            {
                action();
            }
        }
        catch
        {
            // a pipeline-thread action failed (WriteProgress after Ctrl+C, -WarningAction Stop …): stop the worker
            // and wait for it (at most one network call), so nothing runs or writes after the cmdlet has returned
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

    /// <summary>Writes an engine failure as a non-terminating error (the next pipeline row still runs).</summary>
    protected void WriteEngineError(WuerstchenException ex) => WriteError(WithRecordContext(ToErrorRecord(ex)));

    /// <summary>Which pipeline record is being worked on ("Pipeline record 3 (prompt '…')"), for error messages; null when none.</summary>
    protected internal string? RecordContext { get; set; }

    /// <summary>Prefixes the message of an error with <see cref="RecordContext"/>; the exception and TargetObject stay as they are.</summary>
    internal ErrorRecord WithRecordContext(ErrorRecord record)
    {
        if (RecordContext is { } context)
        {
            record.ErrorDetails = new ErrorDetails($"{context}: {record.Exception.Message}");
        }

        return record;
    }

    public static ErrorRecord ToErrorRecord(WuerstchenException ex)
    {
        var category = ex.Kind switch
        {
            WuerstchenErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
            WuerstchenErrorKind.ObjectNotFound => ErrorCategory.ObjectNotFound,
            WuerstchenErrorKind.InvalidData => ErrorCategory.InvalidData,
            WuerstchenErrorKind.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
            WuerstchenErrorKind.WriteError => ErrorCategory.WriteError,
            WuerstchenErrorKind.OperationStopped => ErrorCategory.OperationStopped,
            WuerstchenErrorKind.NotInstalled => ErrorCategory.NotInstalled,
            _ => ErrorCategory.InvalidOperation,
        };
        return new ErrorRecord(ex, ex.ErrorId, category, ex.Target);
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
            if (ex is InsufficientExecutionStackException)
            {
                throw;
            }

            WriteError(WithRecordContext(new ErrorRecord(new InvalidOperationException($"{MyInvocation.MyCommand.Name} failed: {ex.Message}", ex),
                "WuerstchenUnexpectedError", ErrorCategory.NotSpecified, target)));
        }
    }
}

/// <summary>What engine work may do from the worker thread: post progress and warnings to the pipeline thread.</summary>
public sealed class EngineContext
{
    private readonly BlockingCollection<Action> _queue;

    internal EngineContext(BlockingCollection<Action> queue, CancellationToken cancellation)
    {
        _queue = queue;
        Cancellation = cancellation;
    }

    public CancellationToken Cancellation { get; }

    /// <summary>Queues an action for the pipeline thread (WriteProgress, WriteWarning …).</summary>
    public void Post(Action action)
    {
        try
        {
            _queue.TryAdd(action);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
        {
            // completed: the cmdlet is finishing
        }
    }
}
