namespace Wuerstchen.Core;

public enum ModelCheckStatus
{
    Ok,
    Missing,
    Invalid,
}

/// <summary>One thing wrong with a stage: what was expected and what was found.</summary>
public sealed record ModelProblem(string ErrorId, string Message, string Path, string Expected, string Found);

/// <summary>The check of one stage of a model folder.</summary>
public sealed class ModelCheckResult
{
    public required string Stage { get; init; }
    public required string Path { get; init; }
    public ModelCheckStatus Status { get; internal set; } = ModelCheckStatus.Ok;
    public bool Optional { get; init; }
    public string? Provider { get; internal set; }
    public long SizeBytes { get; internal set; }

    /// <summary>The model family the folder was checked as ("wuerstchen-v2", "stable-cascade").</summary>
    public string? Family { get; internal set; }
    public string? Inputs { get; internal set; }
    public string? Outputs { get; internal set; }

    /// <summary>Text width (text encoders), latent channels (diffusion stages) …</summary>
    public int? HiddenSize { get; internal set; }

    public List<ModelProblem> Problems { get; } = new();

    internal void Fail(string id, string message, string expected, string found, ModelCheckStatus status = ModelCheckStatus.Invalid)
    {
        Status = status;
        Problems.Add(new ModelProblem(id, IO.TextExcerpt.Visible(message), Path, IO.TextExcerpt.Visible(expected), IO.TextExcerpt.Visible(found)));
    }
}
