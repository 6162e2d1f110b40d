using System.Management.Automation;
using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

/// <summary>What the text encoders see of a prompt.</summary>
public sealed class WuerstchenPromptInfo
{
    public string Prompt { get; init; } = "";
    public int TokenCount { get; init; }
    public int MaxTokens { get; init; }
    public bool Truncated { get; init; }
    public string? TruncatedText { get; init; }
    public long[] TokenIds { get; init; } = Array.Empty<long>();
    public long[] AttentionMask { get; init; } = Array.Empty<long>();
}

/// <summary>
/// <para type="synopsis">Counts a prompt's CLIP tokens and shows the 77 ids the text encoders get, and what is cut off.</para>
/// </summary>
[Cmdlet(VerbsDiagnostic.Measure, "WuerstchenPrompt")]
[OutputType(typeof(WuerstchenPromptInfo))]
public sealed class MeasureWuerstchenPromptCommand : ModelCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    [AllowNull]
    public object?[]? Prompt { get; set; }

    protected override void ProcessRecord()
    {
        if (ReportBindingFailures())
        {
            return;
        }

        Guarded(() =>
        {
            // the prompt rules of New and Get: a record without a Prompt property is refused, not measured as its text
            var prompts = PromptInput.Resolve(Prompt, fromPipeline: false);
            for (int i = 0; i < prompts.Length; i++)
            {
                PromptText.Check(prompts[i], prompts.Length == 1 ? "Prompt" : $"Prompt number {i + 1}"); // before it is tokenized
            }

            var model = OpenModel();
            var tokenizer = model.Tokenizer(NetworkKind.PriorTextEncoder);
            foreach (var p in prompts)
            {
                var t = tokenizer.Encode(p ?? "");
                WriteObject(new WuerstchenPromptInfo
                {
                    Prompt = p ?? "",
                    TokenCount = t.TokenCount,
                    MaxTokens = model.Config.MaxLength - 2,
                    Truncated = t.Truncated,
                    TruncatedText = t.TruncatedText,
                    TokenIds = t.InputIds,
                    AttentionMask = t.AttentionMask,
                });
            }
        }, Prompt);
    }
}
