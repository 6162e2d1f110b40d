using System.Management.Automation;
using Wuerstchen.Core;

namespace Wuerstchen.PowerShell;

/// <summary>Base of the cmdlets that read a model folder: -ModelPath, $env:WUERSTCHEN_MODEL_PATH or the default folder.</summary>
public abstract class ModelCmdlet : WuerstchenCmdlet
{
    /// <summary>The model folder; else $env:WUERSTCHEN_MODEL_PATH, else the default folder.</summary>
    /// <remarks>Virtual so that Test-WuerstchenModel can make it positional (its only input).</remarks>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [AllowEmptyString]
    [RequestValue("ModelPath")]
    [ArgumentCompleter(typeof(FolderCompleter))]
    public virtual string? ModelPath { get; set; }

    /// <summary>Where models are looked for when neither -ModelPath nor $env:WUERSTCHEN_MODEL_PATH is set.</summary>
    public static string DefaultModelPath => Path.Combine(
        Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify),
        "Wuerstchen", "models", "wuerstchen-v2");

    /// <summary>The environment variable that names the model folder when -ModelPath is not given.</summary>
    public const string ModelPathVariable = "WUERSTCHEN_MODEL_PATH";

    /// <summary>
    /// Resolves the model folder (provider-aware) and opens it. A folder that does not exist is reported with
    /// where its path came from (-ModelPath, $env:WUERSTCHEN_MODEL_PATH or the default), because a stale
    /// variable in a profile is the usual cause; a whitespace-only variable counts as unset. -Verbose says the same.
    /// </summary>
    protected ModelFolder OpenModel()
    {
        string path;
        string source;
        string origin;
        if (!string.IsNullOrEmpty(ModelPath))
        {
            path = ProviderPaths.Resolve(this, ModelPath, "ModelPath");
            source = "It was given with -ModelPath.";
            origin = "-ModelPath";
        }
        else if (Environment.GetEnvironmentVariable(ModelPathVariable) is { } env && !string.IsNullOrWhiteSpace(env))
        {
            path = ProviderPaths.Resolve(this, env, ModelPathVariable);
            source = $"It came from $env:{ModelPathVariable} ('{env}'); correct or remove that variable, or pass -ModelPath.";
            origin = $"$env:{ModelPathVariable}";
        }
        else
        {
            path = DefaultModelPath;
            source = $"It is the default folder: neither -ModelPath nor $env:{ModelPathVariable} was set.";
            origin = "the default folder";
        }

        WriteVerbose($"Model folder: '{path}' (from {origin}).");
        try
        {
            return ModelFolder.Open(path, WriteWarning);
        }
        catch (WuerstchenException ex) when (ex.ErrorId == "ModelNotFound")
        {
            throw new WuerstchenException(ex.ErrorId, ex.Kind, $"{ex.Message} {source}", ex.Target, ex);
        }
    }
}
