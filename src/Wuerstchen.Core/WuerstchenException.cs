namespace Wuerstchen.Core;

/// <summary>What kind of failure an engine error is; the module maps it onto a PowerShell ErrorCategory.</summary>
public enum WuerstchenErrorKind
{
    InvalidArgument,
    ObjectNotFound,
    InvalidData,
    WriteError,
    NotInstalled,
    InvalidOperation,

    /// <summary>A valid value that is not allowed where it came from (a record's path outside the output folder).</summary>
    PermissionDenied,
}

/// <summary>
/// An engine error with a stable id (the ErrorRecord id the cmdlets report) and the offending value.
/// Every failure the engine anticipates is raised as one of these, never as a raw runtime exception.
/// </summary>
public class WuerstchenException : Exception
{
    public WuerstchenException(string errorId, WuerstchenErrorKind kind, string message, object? target = null, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
        Target = target;
    }

    /// <summary>Stable identifier, e.g. "InvalidImageSize".</summary>
    public string ErrorId { get; }

    public WuerstchenErrorKind Kind { get; }

    /// <summary>The offending value (a size, a path, a prompt …).</summary>
    public object? Target { get; }
}
