using System.Collections.Concurrent;
using Wuerstchen.Core.Text;

namespace Wuerstchen.Core;

/// <summary>What identifies a loaded tokenizer: its folder, its files' time stamps and the ids the model index sets.</summary>
internal readonly record struct TokenizerKey(string Folder, long VocabTicks, long MergesTicks, long MapTicks, int MaxLength, int BosTokenId, int EosTokenId,
    int GivenPadTokenId, int PadTokenId);

/// <summary>
/// Tokenizers loaded once per cache (a vocabulary and merge table take a moment to read). One per
/// <see cref="SessionCache"/>; a load that fails is not kept, so the next call tries again.
/// </summary>
public sealed class TokenizerCache
{
    private readonly ConcurrentDictionary<TokenizerKey, Lazy<ClipTokenizer>> _tokenizers = new();

    internal ClipTokenizer GetOrLoad(TokenizerKey key, Func<ClipTokenizer> load)
    {
        var lazy = _tokenizers.GetOrAdd(key, _ => new Lazy<ClipTokenizer>(load));
        try
        {
            return lazy.Value;
        }
        catch
        {
            _tokenizers.TryRemove(new KeyValuePair<TokenizerKey, Lazy<ClipTokenizer>>(key, lazy));
            throw;
        }
    }
}
