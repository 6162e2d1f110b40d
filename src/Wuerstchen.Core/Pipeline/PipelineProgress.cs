namespace Wuerstchen.Core;

/// <summary>Progress of a pipeline: which stage, and its step.</summary>
public readonly record struct PipelineProgress(string Stage, int Step, int TotalSteps, int Rows);
