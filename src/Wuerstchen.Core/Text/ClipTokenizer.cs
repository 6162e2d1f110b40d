using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Wuerstchen.Core.IO;

namespace Wuerstchen.Core.Text;

/// <summary>
/// One prompt tokenized for a CLIP text encoder.
/// </summary>
/// <param name="InputIds">Exactly <see cref="ClipTokenizer.MaxLength"/> ids: BOS, up to MaxLength-2 content tokens, EOS, then PAD.</param>
/// <param name="AttentionMask">1 for BOS..EOS inclusive, 0 for the padding after it.</param>
/// <param name="TokenCount">Number of content tokens before truncation (BOS/EOS not counted).</param>
/// <param name="Truncated">True when the content did not fit and tokens were dropped.</param>
/// <param name="TruncatedText">The dropped tokens decoded back to text; null when nothing was dropped.</param>
public sealed record TokenizedPrompt(long[] InputIds, long[] AttentionMask, int TokenCount, bool Truncated, string? TruncatedText);

/// <summary>
/// Byte-level BPE tokenizer that reproduces OpenAI CLIP's <c>simple_tokenizer.py</c> (the tokenizer of the
/// Würstchen text encoders; vocab.json + merges.txt in the Hugging Face CLIP format).
/// </summary>
/// <remarks>
/// <para>Pipeline, in OpenAI's order (<c>whitespace_clean(basic_clean(text)).lower()</c>, then <c>regex.findall</c>, then BPE):</para>
/// <list type="number">
/// <item>lone UTF-16 surrogates → U+FFFD (Python cannot even UTF-8-encode them; .NET strings can hold them);</item>
/// <item>Unicode NFC (as ftfy.fix_text does; ftfy's other repairs — mojibake, curly quotes → straight quotes,
///   ligatures, full-width forms, control characters — are NOT emulated; Hugging Face's CLIPTokenizerFast, which diffusers
///   uses for Würstchen, does not do them either);</item>
/// <item>HTML unescape twice with Python <c>html.unescape</c> semantics (see <see cref="HtmlEntities.HtmlUnescape"/> for where it differs);</item>
/// <item>strip (Python <c>str.isspace</c> set), collapse runs of regex <c>\s</c> (Unicode White_Space) to one space, strip;</item>
/// <item>Python <c>str.lower()</c>: simple lower-case mapping plus U+0130 → "i̇" and the Greek final-sigma rule;</item>
/// <item>pre-tokenizer = the CLIP pattern
///   <c>&lt;\|startoftext\|&gt;|&lt;\|endoftext\|&gt;|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+</c> (IGNORECASE),
///   evaluated by a hand-written scanner over code points (the .NET Regex engine works on UTF-16 units, so it would not
///   treat astral letters such as U+1D400 as \p{L}, unlike Python's regex module);</item>
/// <item>each piece → UTF-8 bytes → GPT-2 bytes-to-unicode symbols, "&lt;/w&gt;" on the last one → BPE with the merge ranks.
///   The literal pieces "&lt;|startoftext|&gt;" / "&lt;|endoftext|&gt;" map to their vocab ids, exactly as OpenAI's pre-seeded cache does.</item>
/// </list>
/// <para>Hugging Face's CLIPTokenizerFast (tokenizer.json; what diffusers uses for Würstchen) gives the same ids on ordinary
/// prompts, but it does NOT HTML-unescape ("&amp;amp;" stays five characters there), and it may also differ on exotic input that
/// follows Python string semantics here: Greek final sigma, U+001C..U+001F at the ends of a prompt, U+0345, 'ſ', and
/// upper-case special-token literals such as "&lt;|ENDOFTEXT|&gt;".</para>
/// <para>Remaining known deviations from OpenAI: Unicode tables are .NET's, not Python's (only code points assigned in very recent
/// Unicode versions differ), the ftfy repairs listed above, and HTML5-only entity names (see <see cref="HtmlEntities.HtmlUnescape"/>).</para>
/// <para>Thread-safe: all tables are immutable after construction and the per-word BPE cache is a concurrent dictionary.
/// Encoding never throws, whatever the input string.</para>
/// </remarks>
public sealed class ClipTokenizer
{
    private const string EndOfWordSuffix = "</w>";
    internal const string StartOfTextLiteral = "<|startoftext|>";
    internal const string EndOfTextLiteral = "<|endoftext|>";
    private const int MaxCachedPieceLength = 64;
    private const int MaxCacheEntries = 50_000;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<int, string> _idToToken;
    private readonly Dictionary<long, MergeInfo> _merges;   // key = (leftId << 32) | rightId
    private readonly int[] _byteIds;                        // symbol id of each byte
    private readonly int[] _byteEndOfWordIds;               // symbol id of each byte + "</w>"
    private readonly int _bosTokenId, _eosTokenId, _padTokenId;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int[]> _specialPieces = new(StringComparer.Ordinal);
    private int _cacheCount;

    private readonly record struct MergeInfo(int Rank, int Id);

    private ClipTokenizer(Dictionary<string, int> vocab, Dictionary<long, MergeInfo> merges, int[] byteIds, int[] byteEndOfWordIds,
        int maxLength, int bosTokenId, int eosTokenId, int padTokenId)
    {
        _vocab = vocab;
        _merges = merges;
        _byteIds = byteIds;
        _byteEndOfWordIds = byteEndOfWordIds;
        MaxLength = maxLength;
        _bosTokenId = bosTokenId;
        _eosTokenId = eosTokenId;
        _padTokenId = padTokenId;
        _idToToken = new Dictionary<int, string>(vocab.Count);
        foreach (var (token, id) in vocab)
            _idToToken.TryAdd(id, token);
        // OpenAI: self.cache = {'<|startoftext|>': '<|startoftext|>', '<|endoftext|>': '<|endoftext|>'}
        foreach (var literal in new[] { StartOfTextLiteral, EndOfTextLiteral })
            if (vocab.TryGetValue(literal, out int id))
                _specialPieces[literal] = new[] { id };
    }

    /// <summary>Total sequence length of <see cref="Encode"/> (77 for CLIP): BOS + up to MaxLength-2 content tokens + EOS + padding.</summary>
    public int MaxLength { get; }

    /// <summary>The id of one token in a vocab.json, or null when it has none (used for the pad token a tokenizer folder names).</summary>
    public static int? LookUpId(string vocabPath, string token) =>
        ReadVocab(Path.GetFullPath(vocabPath)).TryGetValue(token, out var id) ? id : null;

    /// <summary>
    /// Loads <c>vocab.json</c> and <c>merges.txt</c> (Hugging Face CLIP format) from <paramref name="folder"/>.
    /// </summary>
    /// <exception cref="FileNotFoundException">A file is missing (the message names it).</exception>
    /// <exception cref="InvalidDataException">A file is malformed (the message names the file and, for merges, the line), or a
    /// special-token id does not occur in vocab.json.</exception>
    /// <exception cref="ArgumentOutOfRangeException">maxLength &lt; 2.</exception>
    public static ClipTokenizer FromFolder(string folder, int maxLength = 77, int bosTokenId = 49406, int eosTokenId = 49407, int padTokenId = 49407)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (maxLength < 2)
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "maxLength must be at least 2 (room for BOS and EOS).");

        string vocabPath = Path.GetFullPath(Path.Combine(folder, "vocab.json"));
        string mergesPath = Path.GetFullPath(Path.Combine(folder, "merges.txt"));
        foreach (var path in new[] { vocabPath, mergesPath })
            if (!File.Exists(path))
                throw new FileNotFoundException(
                    $"CLIP tokenizer file not found: '{path}'. A tokenizer folder must contain vocab.json and merges.txt (Hugging Face CLIP format).", path);

        var vocab = ReadVocab(vocabPath);

        var byteIds = new int[256];
        var byteEndOfWordIds = new int[256];
        for (int b = 0; b < 256; b++)
        {
            string symbol = ByteSymbols.ByteToUnicode[b].ToString();
            if (!vocab.TryGetValue(symbol, out byteIds[b]) || !vocab.TryGetValue(symbol + EndOfWordSuffix, out byteEndOfWordIds[b]))
                throw new InvalidDataException(
                    $"'{vocabPath}' is not a byte-level CLIP vocabulary: it lacks the symbol for byte 0x{b:X2} ('{symbol}' and/or '{symbol}{EndOfWordSuffix}').");
        }

        var merges = ReadMerges(mergesPath, vocab);

        var knownIds = new HashSet<int>(vocab.Values);
        foreach (var (name, id) in new[] { (nameof(bosTokenId), bosTokenId), (nameof(eosTokenId), eosTokenId), (nameof(padTokenId), padTokenId) })
            if (!knownIds.Contains(id))
                throw new InvalidDataException($"The {name} {id} does not occur in '{vocabPath}' (wrong vocabulary or wrong special-token ids).");

        return new ClipTokenizer(vocab, merges, byteIds, byteEndOfWordIds, maxLength, bosTokenId, eosTokenId, padTokenId);
    }

    /// <summary>Largest vocab.json or merges.txt read (CLIP's are 1.6 MB and 0.5 MB; bigG's the same).</summary>
    public const long MaxFileBytes = 16L << 20;

    private static Dictionary<string, int> ReadVocab(string path)
    {
        string json = BoundedFile.ReadAllText(path, MaxFileBytes, "a vocab.json");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"'{path}' must hold a JSON object mapping token strings to ids; found {doc.RootElement.ValueKind}.");
            var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (property.Value.ValueKind != JsonValueKind.Number || !property.Value.TryGetInt32(out int id) || id < 0)
                    throw new InvalidDataException(
                        $"'{path}': the id of token '{TextExcerpt.Of(property.Name)}' is not a non-negative 32-bit integer ({TextExcerpt.Of(property.Value.GetRawText())}).");
                // a repeated token: which id is meant? (JsonText.CheckUniqueKeys's rule, checked here for free)
                if (!vocab.TryAdd(property.Name, id))
                    throw new InvalidDataException($"'{path}': the token '{TextExcerpt.Of(property.Name)}' appears twice; which id is meant is ambiguous.");
            }
            CheckUniqueIds(path, vocab);
            if (vocab.Count == 0)
                throw new InvalidDataException($"'{path}' holds an empty vocabulary.");
            return vocab;
        }
    }

    /// <summary>
    /// One id, two tokens: decoding (the truncation warning) and the special-token ids would name either. Checked on a
    /// sorted copy of the ids (a few hundred KB), not a second dictionary, since a failed tokenizer is read again each time.
    /// </summary>
    private static void CheckUniqueIds(string path, Dictionary<string, int> vocab)
    {
        var ids = vocab.Values.ToArray();
        Array.Sort(ids);
        for (int i = 1; i < ids.Length; i++)
        {
            if (ids[i] == ids[i - 1])
            {
                var both = vocab.Where(kv => kv.Value == ids[i]).Select(kv => $"'{TextExcerpt.Of(kv.Key)}'").Take(2).ToArray();
                throw new InvalidDataException($"'{path}': the tokens {both[0]} and {both[1]} both have id {ids[i]}; each id names one token (wrong or hand-edited vocabulary).");
            }
        }
    }

    private static Dictionary<long, MergeInfo> ReadMerges(string path, Dictionary<string, int> vocab)
    {
        var merges = new Dictionary<long, MergeInfo>();
        int rank = 0, lineNumber = 0;
        using var lines = new StringReader(BoundedFile.ReadAllText(path, MaxFileBytes, "a merges.txt"));
        for (string? line = lines.ReadLine(); line is not null; line = lines.ReadLine())
        {
            lineNumber++;
            if (line.StartsWith("#version", StringComparison.Ordinal) || line.Trim().Length == 0)
                continue;
            string[] parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                throw new InvalidDataException($"'{path}' line {lineNumber}: expected two symbols separated by one space, found '{TextExcerpt.Of(line)}'.");
            if (!vocab.TryGetValue(parts[0], out int left) || !vocab.TryGetValue(parts[1], out int right)
                || !vocab.TryGetValue(parts[0] + parts[1], out int merged))
                throw new InvalidDataException(
                    $"'{path}' line {lineNumber}: merge '{TextExcerpt.Of(line)}' uses or produces a symbol that is not in vocab.json.");
            // Like Python's dict(zip(merges, range(...))): a repeated pair keeps its last rank.
            merges[PairKey(left, right)] = new MergeInfo(rank, merged);
            rank++;
        }
        if (merges.Count == 0)
            throw new InvalidDataException($"'{path}' holds no merges.");
        return merges;
    }

    private static long PairKey(int left, int right) => ((long)left << 32) | (uint)right;

    // ------------------------------------------------------------------ encoding

    /// <summary>
    /// Tokenizes one prompt to exactly <see cref="MaxLength"/> ids: [BOS, up to MaxLength-2 content tokens, EOS, PAD...],
    /// with attention mask 1 for BOS..EOS inclusive and 0 after. Longer prompts are truncated (EOS stays last).
    /// Never throws; null is treated as the empty string.
    /// </summary>
    public TokenizedPrompt Encode(string text)
    {
        int[] content = EncodeCore(text);
        int kept = Math.Min(content.Length, MaxLength - 2);
        var ids = new long[MaxLength];
        var mask = new long[MaxLength];
        ids[0] = _bosTokenId;
        mask[0] = 1;
        for (int i = 0; i < kept; i++)
        {
            ids[i + 1] = content[i];
            mask[i + 1] = 1;
        }
        ids[kept + 1] = _eosTokenId;
        mask[kept + 1] = 1;
        for (int i = kept + 2; i < MaxLength; i++)
            ids[i] = _padTokenId;

        bool truncated = content.Length > kept;
        string? truncatedText = truncated ? Decode(new ArraySegment<int>(content, kept, content.Length - kept)) : null;
        return new TokenizedPrompt(ids, mask, content.Length, truncated, truncatedText);
    }

    /// <summary>Content token ids only (no BOS/EOS, no truncation). Never throws; null is treated as the empty string.</summary>
    public IReadOnlyList<int> EncodeContent(string text) => EncodeCore(text);

    private int[] EncodeCore(string? text)
    {
        string normalized = PythonText.NormalizeText(text);
        if (normalized.Length == 0)
            return Array.Empty<int>();
        var result = new List<int>(Math.Min(normalized.Length, 1 << 16));
        foreach (string piece in ClipPreTokenizer.PreTokenize(normalized))
            result.AddRange(PieceToIds(piece));
        return result.ToArray();
    }

    private int[] PieceToIds(string piece)
    {
        if (_specialPieces.TryGetValue(piece, out int[]? special))
            return special;
        if (_cache.TryGetValue(piece, out int[]? cached))
            return cached;
        int[] ids = Bpe(Encoding.UTF8.GetBytes(piece));
        if (piece.Length <= MaxCachedPieceLength)
        {
            if (Volatile.Read(ref _cacheCount) >= MaxCacheEntries)
            {
                // Bound memory for long-lived processes fed with arbitrary text; ids stay the same, only speed changes.
                _cache.Clear();
                Interlocked.Exchange(ref _cacheCount, 0);
            }
            if (_cache.TryAdd(piece, ids))
                Interlocked.Increment(ref _cacheCount);
        }
        return ids;
    }

    /// <summary>
    /// BPE of one pre-tokenized piece, with exactly the result of OpenAI's <c>bpe()</c>: repeatedly take the adjacent pair with
    /// the lowest merge rank and merge ALL its non-overlapping occurrences from left to right. Implemented with a linked list and
    /// a heap keyed (rank, position): all heap entries of the lowest rank are taken as one round in position order (an entry
    /// whose pair no longer exists is skipped, which is the left-to-right non-overlap rule), and the pairs created by the
    /// round are pushed only after it, so the round structure matches OpenAI's loop for any merges table. O(n log n).
    /// One function (~70 lines) on purpose: the heap, the linked symbol list and the round rule only make sense together.
    /// </summary>
    private int[] Bpe(byte[] bytes)
    {
        int n = bytes.Length;
        if (n == 0)
            return Array.Empty<int>();
        if (n == 1)
            return new[] { _byteEndOfWordIds[bytes[0]] };

        var symbols = new int[n];
        var next = new int[n];
        var prev = new int[n];
        for (int i = 0; i < n; i++)
        {
            symbols[i] = _byteIds[bytes[i]];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        symbols[n - 1] = _byteEndOfWordIds[bytes[n - 1]];

        var initial = new List<(int Position, long Key)>(n);
        for (int i = 0; i + 1 < n; i++)
            if (_merges.TryGetValue(PairKey(symbols[i], symbols[i + 1]), out var m))
                initial.Add((i, HeapKey(m.Rank, i)));
        var heap = new PriorityQueue<int, long>(initial);      // O(n) heapify

        var round = new List<int>();
        var changed = new List<int>();
        while (heap.TryPeek(out _, out long topKey))
        {
            int rank = (int)(topKey >> 32);
            round.Clear();
            while (heap.TryPeek(out int pos, out long key) && (int)(key >> 32) == rank)
            {
                heap.Dequeue();
                round.Add(pos);
            }

            changed.Clear();
            foreach (int pos in round)
            {
                if (symbols[pos] < 0)
                    continue;                       // absorbed by its left neighbour earlier in this round
                int right = next[pos];
                if (right < 0 || !_merges.TryGetValue(PairKey(symbols[pos], symbols[right]), out var m) || m.Rank != rank)
                    continue;                       // stale entry: the pair at pos has changed
                symbols[pos] = m.Id;
                symbols[right] = -1;
                int after = next[right];
                next[pos] = after;
                if (after >= 0)
                    prev[after] = pos;
                changed.Add(pos);
            }

            foreach (int pos in changed)
            {
                if (symbols[pos] < 0)
                    continue;
                int left = prev[pos];
                if (left >= 0 && _merges.TryGetValue(PairKey(symbols[left], symbols[pos]), out var ml))
                    heap.Enqueue(left, HeapKey(ml.Rank, left));
                int right = next[pos];
                if (right >= 0 && _merges.TryGetValue(PairKey(symbols[pos], symbols[right]), out var mr))
                    heap.Enqueue(pos, HeapKey(mr.Rank, pos));
            }
        }

        var result = new List<int>();
        for (int i = 0; i >= 0; i = next[i])
            result.Add(symbols[i]);
        return result.ToArray();
    }

    private static long HeapKey(int rank, int position) => ((long)rank << 32) | (uint)position;

    // ------------------------------------------------------------------ decoding

    /// <summary>
    /// Turns content ids back into text like OpenAI's <c>decode</c> (symbols → bytes → UTF-8 with U+FFFD for invalid sequences,
    /// "&lt;/w&gt;" → space), then trims surrounding spaces as Hugging Face's CLIPTokenizer does. Unknown ids are skipped; never throws.
    /// The text is the normalized (lower-cased, unescaped) form, not the original spelling.
    /// </summary>
    public string Decode(IEnumerable<int> ids)
    {
        if (ids is null)
            return string.Empty;
        var bytes = new List<byte>();
        Span<byte> utf8 = stackalloc byte[4];
        foreach (int id in ids)
        {
            if (!_idToToken.TryGetValue(id, out string? token))
                continue;
            foreach (Rune rune in token.EnumerateRunes())
            {
                if (rune.Value < ByteSymbols.UnicodeToByte.Length && ByteSymbols.UnicodeToByte[rune.Value] >= 0)
                    bytes.Add((byte)ByteSymbols.UnicodeToByte[rune.Value]);
                else
                {
                    int count = rune.EncodeToUtf8(utf8);
                    for (int i = 0; i < count; i++)
                        bytes.Add(utf8[i]);
                }
            }
        }
        string text = Encoding.UTF8.GetString(bytes.ToArray());
        return text.Replace(EndOfWordSuffix, " ", StringComparison.Ordinal).Trim(' ');
    }
}
