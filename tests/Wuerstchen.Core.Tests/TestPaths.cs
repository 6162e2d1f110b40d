namespace Wuerstchen.Core.Tests;

/// <summary>Locations the tests read from.</summary>
internal static class TestPaths
{
    private const string Marker = "models/standin/prior_tokenizer/vocab.json";
    private static readonly Lazy<string> LazyRepoRoot = new(FindRepoRoot);

    /// <summary>The first directory at or above <see cref="AppContext.BaseDirectory"/> that contains models/standin/prior_tokenizer/vocab.json.</summary>
    public static string RepoRoot => LazyRepoRoot.Value;

    /// <summary>RepoRoot/models/standin.</summary>
    public static string StandinModels => Path.Combine(RepoRoot, "models", "standin");

    /// <summary>The test data copied next to the test assembly (AppContext.BaseDirectory/data).</summary>
    public static string DataDir => Path.Combine(AppContext.BaseDirectory, "data");

    private static string FindRepoRoot()
    {
        string relative = Marker.Replace('/', Path.DirectorySeparatorChar);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, relative)))
                return dir.FullName;
        throw new DirectoryNotFoundException($"No directory at or above '{AppContext.BaseDirectory}' contains {Marker}.");
    }
}
