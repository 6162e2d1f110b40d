using System.Diagnostics;
using System.Management.Automation;
using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

/// <summary>Base of the cmdlets that run networks: device choice, memory options, progress, verbose timings.</summary>
public abstract class NetworkCmdlet : ModelCmdlet
{
    /// <summary>Auto tries CUDA and falls back to the CPU with a warning; Cuda fails when CUDA cannot load; Cpu never tries it.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [RequestValue("ExecutionProvider")]
    public ExecutionProviderKind? ExecutionProvider { get; set; }

    /// <summary>The CUDA device.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [RequestValue("DeviceId")]
    public int? DeviceId { get; set; }

    /// <summary>Upper bound, in MiB, of ONNX Runtime's CUDA memory arena (0 = none).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [RequestValue("GpuMemoryLimitMB")]
    public int? GpuMemoryLimitMB { get; set; }

    /// <summary>Releases each stage's networks as soon as the stage is done (slower, for small GPUs).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public SwitchParameter LowMemory { get; set; }

    // where each stage's progress sits on the batch bar, so the bar moves during the stages
    private static readonly Dictionary<string, (int From, int To)> PhaseShare = new(StringComparer.Ordinal)
    {
        ["Prior"] = (0, 50),
        ["Decoder"] = (50, 90),
        ["VQGAN"] = (90, 100),
    };

    protected ExecutionOptions Execution => new()
    {
        Provider = ExecutionProvider ?? ExecutionProviderKind.Auto,
        DeviceId = DeviceId ?? 0,
        GpuMemoryLimit = (long)(GpuMemoryLimitMB ?? 0) << 20,
    };

    /// <summary>The CUDA companion module of this OS, which brings ONNX Runtime's GPU build (see the loader's NativeRuntime).</summary>
    public static string CompanionModuleName => OperatingSystem.IsWindows() ? "Wuerstchen.Cuda.Windows" : "Wuerstchen.Cuda.Linux";

    static NetworkCmdlet()
    {
        // the engine only knows that the CPU build is loaded; how to add the GPU build is this host's business
        SessionCache.Shared.Devices.NoGpuRuntimeHelp = NoGpuRuntimeHelp();
    }

    /// <summary>What to do without a GPU runtime: install the companion, or — when one was found and passed over — why.</summary>
    private static string NoGpuRuntimeHelp() => SkippedGpuRuntimes() is { Length: > 0 } skipped
        ? $"A GPU runtime was found but passed over: {string.Join("; ", skipped)}. Reinstall it (Install-PSResource {CompanionModuleName} -Reinstall) or correct ${"env:"}WUERSTCHEN_CUDA_PATH, then start a new PowerShell session."
        : $"To add it: Install-PSResource {CompanionModuleName} (ONNX Runtime 1.31's GPU build; it needs an NVIDIA driver, CUDA 13 and cuDNN 9), "
            + "then start a new PowerShell session (see the README, section GPU (CUDA)).";

    /// <summary>
    /// A warning from the worker thread. The CUDA fallback is one short line (CI logs read it once per job) that says
    /// which case it is (no GPU runtime; no device or driver; the provider failed); the details and what to do go to -Verbose.
    /// </summary>
    protected void Warn(EngineContext context, string message)
    {
        if (message.StartsWith(DeviceSelector.CudaFallbackStart, StringComparison.Ordinal))
        {
            context.WriteVerbose(message);
            foreach (var skipped in SkippedGpuRuntimes())
            {
                context.WriteVerbose($"GPU runtime passed over: {skipped}");
            }

            var summary = DeviceSelector.Summary(message[DeviceSelector.CudaFallbackStart.Length..]);
            message = summary == DeviceSelector.NoGpuRuntime
                ? SkippedGpuRuntimes().Length > 0
                    ? $"CUDA is not available ({summary}: a GPU runtime was found but passed over: {Core.IO.TextExcerpt.Of(SkippedGpuRuntimes()[0])}); running on the CPU (-Verbose says more)."
                    : $"CUDA is not available ({summary}: Install-PSResource {CompanionModuleName} adds it); running on the CPU (-Verbose says more)."
                : $"CUDA is not available{(summary is null ? "" : $" ({summary})")}; running on the CPU, which is far slower (-Verbose says why).";
        }

        context.WriteWarning(message);
    }

    /// <summary>The GPU runtimes the module's loader looked at and did not use, with why (WUERSTCHEN_CUDA_PATH, companions).</summary>
    internal static string[] SkippedGpuRuntimes() => AppDomain.CurrentDomain.GetData("Wuerstchen.NativeRuntime.Skipped") as string[] ?? Array.Empty<string>();

    protected WuerstchenPipeline CreatePipeline(ModelFolder model, EngineContext context, int progressParent, string activity)
    {
        SessionCache.Shared.Devices.NoGpuRuntimeHelp = NoGpuRuntimeHelp(); // the loader's choice is made by now
        var reporter = new StageReporter(context, progressParent, activity);
        var warned = new HashSet<string>(StringComparer.Ordinal);
        context.WriteVerbose($"Execution provider: {ExecutionProvider ?? ExecutionProviderKind.Auto}, device {DeviceId ?? 0}{(LowMemory ? ", low memory" : "")}.");
        return new WuerstchenPipeline(model, Execution)
        {
            LowMemory = LowMemory.IsPresent,
            // once per distinct text: both text encoders truncate a long prompt with the same message
            Warning = message =>
            {
                lock (warned)
                {
                    if (!warned.Add(message))
                    {
                        return;
                    }
                }

                Warn(context, message);
            },
            Progress = reporter.Step,
            Loading = reporter.Load,
        };
    }

    protected void WriteBatchProgress(int id, string activity, string status, int percent, bool completed = false) =>
        WriteProgress(BatchRecord(id, activity, status, percent, completed));

    private static ProgressRecord BatchRecord(int id, string activity, string status, int percent, bool completed) =>
        new(id, activity, status)
        {
            PercentComplete = Math.Clamp(percent, 0, 100),
            RecordType = completed ? ProgressRecordType.Completed : ProgressRecordType.Processing,
        };

    /// <summary>Turns the engine's progress and load events into progress bars and -Verbose timings (worker thread).</summary>
    private sealed class StageReporter
    {
        private readonly EngineContext _context;
        private readonly int _parent;
        private readonly string _activity;
        private readonly Stopwatch _phaseClock = new();
        private int _lastPercent = -1;
        private string _lastPhase = "";

        public StageReporter(EngineContext context, int parent, string activity)
        {
            _context = context;
            _parent = parent;
            _activity = activity;
        }

        public void Load(NetworkLoad load)
        {
            if (load.Elapsed is not { } elapsed)
            {
                _context.WriteProgress(new ProgressRecord(_parent + 1, $"{_activity}: loading", $"Loading {load.Network}…") { ParentActivityId = _parent }, wait: true);
                return;
            }

            _context.WriteVerbose(load.Cached
                ? $"{load.Network} network: cached session ({load.Provider})."
                : $"{load.Network} network loaded on {load.Provider} in {elapsed.TotalSeconds:0.00} s.");
            // Ctrl+C during a load: ONNX Runtime cannot be interrupted there, but nothing more runs once it returns
            _context.Cancellation.ThrowIfCancellationRequested();
        }

        public void Step(PipelineProgress p)
        {
            if (p.Phase != _lastPhase)
            {
                _phaseClock.Restart();
            }

            int percent = p.TotalSteps == 0 ? 100 : p.Step * 100 / p.TotalSteps;
            if (percent == _lastPercent && p.Phase == _lastPhase)
            {
                return;
            }

            _lastPercent = percent;
            _lastPhase = p.Phase;
            _context.WriteProgress(new ProgressRecord(_parent + 1, $"{_activity}: {p.Phase}",
                $"{p.Phase} step {p.Step} of {p.TotalSteps} ({p.Rows} image{(p.Rows == 1 ? "" : "s")})")
            {
                ParentActivityId = _parent,
                PercentComplete = Math.Clamp(percent, 0, 100),
                RecordType = p.IsLast ? ProgressRecordType.Completed : ProgressRecordType.Processing,
            });
            if (PhaseShare.TryGetValue(p.Phase, out var share))
            {
                int overall = share.From + (share.To - share.From) * Math.Clamp(percent, 0, 100) / 100;
                _context.WriteProgress(BatchRecord(_parent, _activity, $"{p.Phase} ({p.Rows} image{(p.Rows == 1 ? "" : "s")})", Math.Min(overall, 99), false));
            }

            if (p.Step >= p.TotalSteps)
            {
                _context.WriteVerbose($"{p.Phase}: {p.TotalSteps} step{(p.TotalSteps == 1 ? "" : "s")} for {p.Rows} image{(p.Rows == 1 ? "" : "s")} in {_phaseClock.Elapsed.TotalSeconds:0.00} s.");
            }
        }
    }
}
