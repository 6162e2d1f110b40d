using System.Collections.Concurrent;
using System.Management.Automation;
using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

/// <summary>
/// What engine work on the worker thread may ask of the pipeline thread, as typed requests on one queue
/// (in the manner of an async cmdlet base): output, errors, warnings, verbose text, progress and
/// ShouldProcess. PowerShell allows those calls only on the pipeline thread, which drains the queue as the
/// requests arrive (<see cref="WuerstchenCmdlet"/>.RunEngine), so results stream while the engine works.
/// </summary>
public sealed class EngineContext
{
    private readonly BlockingCollection<PipelineRequest> _queue;
    private readonly Func<PipelineRequest, bool> _dispatch;
    private readonly int _pipelineThread;

    internal EngineContext(BlockingCollection<PipelineRequest> queue, Func<PipelineRequest, bool> dispatch, CancellationToken cancellation)
    {
        _queue = queue;
        _dispatch = dispatch;
        Cancellation = cancellation;
        _pipelineThread = Environment.CurrentManagedThreadId;
    }

    /// <summary>Cancelled by Ctrl+C (StopProcessing) or when a pipeline-thread call failed.</summary>
    public CancellationToken Cancellation { get; }

    /// <summary>Emits an object and waits until the pipeline has taken it, so the next file is not written before the last one was seen.</summary>
    public void WriteObject(object value) => Send(new PipelineRequest(PipelineRequestKind.Output, value));

    /// <summary>Emits a written file as the file-system provider's item (PSPath, Mode …) with <paramref name="properties"/> added.</summary>
    public void WriteFile(string path, IReadOnlyList<KeyValuePair<string, object?>> properties) =>
        Send(new PipelineRequest(PipelineRequestKind.File, path) { Properties = properties });

    /// <summary>Writes a non-terminating error (with the pipeline record's context) and waits for it (-ErrorAction Stop must stop this worker).</summary>
    public void WriteError(WuerstchenException error) => Send(new PipelineRequest(PipelineRequestKind.Error, error));

    /// <summary>
    /// Writes a warning and waits until it has been written: under -WarningAction Stop, WriteWarning throws on the
    /// pipeline thread, which cancels this context, so the worker must not go on (and write an image) meanwhile.
    /// </summary>
    public void WriteWarning(string message) => Send(new PipelineRequest(PipelineRequestKind.Warning, message));

    public void WriteVerbose(string message) => Post(new PipelineRequest(PipelineRequestKind.Verbose, message));

    /// <summary>
    /// Writes progress; with <paramref name="wait"/>, returns only once the host has seen it (before a network load,
    /// so that a Ctrl+C the user presses on reading "Loading …" reaches this context while the load runs).
    /// </summary>
    public void WriteProgress(ProgressRecord record, bool wait = false)
    {
        var request = new PipelineRequest(PipelineRequestKind.Progress, record);
        if (wait)
        {
            Send(request);
        }
        else
        {
            Post(request);
        }
    }

    /// <summary>Asks -WhatIf/-Confirm on the pipeline thread and waits for the answer.</summary>
    public bool ShouldProcess(string target, string action) =>
        Send(new PipelineRequest(PipelineRequestKind.ShouldProcess, target) { Action = action });

    private void Post(PipelineRequest request)
    {
        if (Environment.CurrentManagedThreadId == _pipelineThread)
        {
            _dispatch(request); // already on the pipeline thread (engine code called before the worker started)
            return;
        }

        try
        {
            _queue.TryAdd(request);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
        {
            // completed: the cmdlet is finishing
        }
    }

    // Waits for the pipeline thread's answer. If the request throws there, the cmdlet cancels this context and
    // the wait ends with OperationCanceledException: it never returns normally after a failed request.
    private bool Send(PipelineRequest request)
    {
        if (Environment.CurrentManagedThreadId == _pipelineThread)
        {
            return _dispatch(request);
        }

        request.Reply = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(request);
        request.Reply.Task.Wait(Cancellation);
        return request.Reply.Task.Result;
    }
}

internal enum PipelineRequestKind
{
    Output,
    File,
    Error,
    Warning,
    Verbose,
    Progress,
    ShouldProcess,
}

/// <summary>One request from the worker thread; <see cref="Reply"/> is set when the worker waits for the answer.</summary>
internal sealed class PipelineRequest
{
    public PipelineRequest(PipelineRequestKind kind, object value)
    {
        Kind = kind;
        Value = value;
    }

    public PipelineRequestKind Kind { get; }

    /// <summary>The object, path, error, message or progress record, by <see cref="Kind"/>.</summary>
    public object Value { get; }

    /// <summary>For <see cref="PipelineRequestKind.File"/>: the properties added to the file's item.</summary>
    public IReadOnlyList<KeyValuePair<string, object?>>? Properties { get; init; }

    /// <summary>For <see cref="PipelineRequestKind.ShouldProcess"/>: the action text.</summary>
    public string? Action { get; init; }

    public TaskCompletionSource<bool>? Reply { get; set; }
}
