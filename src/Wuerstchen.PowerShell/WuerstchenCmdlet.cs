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

    /// <summary>
    /// Resolves the model folder (provider-aware) and opens it. A folder that does not exist is reported with
    /// where its path came from (-ModelPath, $env:WUERSTCHEN_MODEL_PATH or the default), because a stale
    /// variable in a profile is the usual cause; a whitespace-only variable counts as unset.
    /// </summary>
    protected ModelFolder OpenModel()
    {
        string path;
        string source;
        if (!string.IsNullOrEmpty(ModelPath))
        {
            path = GetUnresolvedProviderPathFromPSPath(ModelPath);
            source = "It was given with -ModelPath.";
        }
        else if (Environment.GetEnvironmentVariable(ModelPathVariable) is { } env && !string.IsNullOrWhiteSpace(env))
        {
            path = GetUnresolvedProviderPathFromPSPath(env);
            source = $"It came from $env:{ModelPathVariable} ('{env}'); correct or remove that variable, or pass -ModelPath.";
        }
        else
        {
            path = DefaultModelPath;
            source = $"It is the default folder: neither -ModelPath nor $env:{ModelPathVariable} was set.";
        }

        try
        {
            return ModelFolder.Open(path, WriteWarning);
        }
        catch (WuerstchenException ex) when (ex.ErrorId == "ModelNotFound")
        {
            throw new WuerstchenException(ex.ErrorId, ex.Kind, $"{ex.Message} {source}", ex.Target, ex);
        }
    }

    /// <summary>The environment variable that names the model folder when -ModelPath is not given.</summary>
    public const string ModelPathVariable = "WUERSTCHEN_MODEL_PATH";

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
            WuerstchenErrorKind.WriteError => ErrorCategory.WriteError,
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
        _pipelineThread = Environment.CurrentManagedThreadId;
    }

    private readonly int _pipelineThread;

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

    /// <summary>
    /// Queues an action for the pipeline thread and waits until it has run. For warnings: under
    /// -WarningAction Stop, WriteWarning throws on the pipeline thread, which cancels this context, so the
    /// worker must not go on (and write an image) while the warning is still queued. If the action throws, the
    /// wait ends with OperationCanceledException once the cmdlet cancels; it never returns normally.
    /// </summary>
    public void Send(Action action)
    {
        if (Environment.CurrentManagedThreadId == _pipelineThread)
        {
            action(); // already on the pipeline thread (engine code called before the worker started)
            return;
        }

        // not disposed: the pipeline thread may still run the action after a cancelled wait has returned
        var done = new ManualResetEventSlim();
        Post(() =>
        {
            action();
            done.Set();
        });
        done.Wait(Cancellation);
    }
}
