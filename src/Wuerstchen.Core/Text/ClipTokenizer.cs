using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

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
/// <item>HTML unescape twice with Python <c>html.unescape</c> semantics (see <see cref="HtmlUnescape"/> for where it differs);</item>
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
/// Unicode versions differ), the ftfy repairs listed above, and HTML5-only entity names (see <see cref="HtmlUnescape"/>).</para>
/// <para>Thread-safe: all tables are immutable after construction and the per-word BPE cache is a concurrent dictionary.
/// Encoding never throws, whatever the input string.</para>
/// </remarks>
public sealed class ClipTokenizer
{
    private const string EndOfWordSuffix = "</w>";
    private const string StartOfTextLiteral = "<|startoftext|>";
    private const string EndOfTextLiteral = "<|endoftext|>";
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

    /// <summary>Number of entries in vocab.json.</summary>
    public int VocabularySize => _vocab.Count;

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
            string symbol = ByteToUnicode[b].ToString();
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

    private static Dictionary<string, int> ReadVocab(string path)
    {
        string json = File.ReadAllText(path, Encoding.UTF8);
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
                    throw new InvalidDataException($"'{path}': the id of token '{property.Name}' is not a non-negative 32-bit integer ({property.Value.GetRawText()}).");
                vocab[property.Name] = id;
            }
            if (vocab.Count == 0)
                throw new InvalidDataException($"'{path}' holds an empty vocabulary.");
            return vocab;
        }
    }

    private static Dictionary<long, MergeInfo> ReadMerges(string path, Dictionary<string, int> vocab)
    {
        var merges = new Dictionary<long, MergeInfo>();
        int rank = 0, lineNumber = 0;
        foreach (string line in File.ReadLines(path, Encoding.UTF8))
        {
            lineNumber++;
            if (line.StartsWith("#version", StringComparison.Ordinal) || line.Trim().Length == 0)
                continue;
            string[] parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                throw new InvalidDataException($"'{path}' line {lineNumber}: expected two symbols separated by one space, found '{line}'.");
            if (!vocab.TryGetValue(parts[0], out int left) || !vocab.TryGetValue(parts[1], out int right)
                || !vocab.TryGetValue(parts[0] + parts[1], out int merged))
                throw new InvalidDataException(
                    $"'{path}' line {lineNumber}: merge '{line}' uses or produces a symbol that is not in vocab.json.");
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
        string normalized = NormalizeText(text);
        if (normalized.Length == 0)
            return Array.Empty<int>();
        var result = new List<int>(Math.Min(normalized.Length, 1 << 16));
        foreach (string piece in PreTokenize(normalized))
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
                if (rune.Value < UnicodeToByte.Length && UnicodeToByte[rune.Value] >= 0)
                    bytes.Add((byte)UnicodeToByte[rune.Value]);
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

    // ------------------------------------------------------------------ GPT-2 bytes <-> unicode

    /// <summary>GPT-2 / CLIP <c>bytes_to_unicode()</c>: printable Latin-1 bytes map to themselves, the others to U+0100 + n.</summary>
    private static readonly char[] ByteToUnicode = BuildByteToUnicode();

    /// <summary>Inverse of <see cref="ByteToUnicode"/>, indexed by char (-1 = not a byte symbol).</summary>
    private static readonly int[] UnicodeToByte = BuildUnicodeToByte();

    private static char[] BuildByteToUnicode()
    {
        var map = new char[256];
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)(256 + n++);
        }
        return map;
    }

    private static int[] BuildUnicodeToByte()
    {
        var inverse = new int[512];
        Array.Fill(inverse, -1);
        for (int b = 0; b < 256; b++)
            inverse[ByteToUnicode[b]] = b;
        return inverse;
    }

    // ------------------------------------------------------------------ normalization

    /// <summary>
    /// OpenAI's <c>whitespace_clean(basic_clean(text)).lower()</c> with ftfy.fix_text reduced to NFC (see the class remarks).
    /// Never throws.
    /// </summary>
    internal static string NormalizeText(string? text)
    {
        if (string.IsNullOrEmpty(text))
            return string.Empty;
        string s = ReplaceLoneSurrogates(text);
        s = ToNfc(s);
        s = HtmlUnescape(HtmlUnescape(s));
        s = StripPythonWhitespace(s);        // basic_clean: text.strip()
        s = CollapseWhitespace(s);           // whitespace_clean: regex.sub(r'\s+', ' ', text)
        s = StripPythonWhitespace(s);        //                   text.strip()
        return PythonLower(s);
    }

    private static string ReplaceLoneSurrogates(string s)
    {
        int i = 0;
        for (; i < s.Length; i++)
        {
            char c = s[i];
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                i++;
            else if (char.IsSurrogate(c))
                break;
        }
        if (i >= s.Length)
            return s;
        var sb = new StringBuilder(s.Length);
        sb.Append(s, 0, i);
        for (; i < s.Length; i++)
        {
            char c = s[i];
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                sb.Append(c).Append(s[i + 1]);
                i++;
            }
            else
                sb.Append(char.IsSurrogate(c) ? '\uFFFD' : c);
        }
        return sb.ToString();
    }

    private static string ToNfc(string s)
    {
        try
        {
            return s.IsNormalized(NormalizationForm.FormC) ? s : s.Normalize(NormalizationForm.FormC);
        }
        catch (Exception e) when (e is ArgumentException or PlatformNotSupportedException)
        {
            // Globalization-invariant mode may refuse non-ASCII normalization; tokenizing un-normalized text beats failing.
            return s;
        }
    }

    /// <summary>Python <c>str.isspace()</c> (used by <c>str.strip()</c>): Unicode White_Space plus U+001C..U+001F.</summary>
    private static bool IsPythonSpace(char c) => IsRegexSpace(c) || (c >= '\u001C' && c <= '\u001F');

    /// <summary><c>\s</c> of Python's regex module (used by whitespace_clean and the pre-tokenizer) = Unicode White_Space.</summary>
    private static bool IsRegexSpace(char c) => c switch
    {
        >= '\t' and <= '\r' => true,
        ' ' or '\u0085' or '\u00A0' or '\u1680' or '\u2028' or '\u2029' or '\u202F' or '\u205F' or '\u3000' => true,
        >= '\u2000' and <= '\u200A' => true,
        _ => false,
    };

    private static string StripPythonWhitespace(string s)
    {
        int start = 0, end = s.Length;
        while (start < end && IsPythonSpace(s[start]))
            start++;
        while (end > start && IsPythonSpace(s[end - 1]))
            end--;
        return start == 0 && end == s.Length ? s : s.Substring(start, end - start);
    }

    private static string CollapseWhitespace(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length;)
        {
            if (IsRegexSpace(s[i]))
            {
                sb.Append(' ');
                while (i < s.Length && IsRegexSpace(s[i]))
                    i++;
            }
            else
                sb.Append(s[i++]);
        }
        return sb.ToString();
    }

    /// <summary>
    /// Python <c>str.lower()</c>: the simple lower-case mapping per code point, except U+0130 → "i\u0307" (its only
    /// unconditional multi-character mapping) and U+03A3 → final ς when it ends a word (Unicode Final_Sigma context).
    /// </summary>
    private static string PythonLower(string s)
    {
        var sb = new StringBuilder(s.Length + 8);
        for (int i = 0; i < s.Length;)
        {
            Rune.DecodeFromUtf16(s.AsSpan(i), out Rune rune, out int width);
            if (rune.Value == 0x0130)
                sb.Append("i\u0307");
            else if (rune.Value == 0x03A3)
                sb.Append(IsFinalSigma(s, i) ? '\u03C2' : '\u03C3');
            else
            {
                Rune lower = Rune.ToLowerInvariant(rune);
                if (lower.IsBmp)
                    sb.Append((char)lower.Value);
                else
                    sb.Append(lower.ToString());
            }
            i += width;
        }
        return sb.ToString();
    }

    /// <summary>CPython's handle_capital_sigma: \p{Cased}\p{Case_Ignorable}* Σ !(\p{Case_Ignorable}* \p{Cased}).</summary>
    private static bool IsFinalSigma(string s, int index)
    {
        bool final = false;
        for (int j = index; j > 0;)
        {
            if (!Rune.TryGetRuneAt(s, j - 1, out Rune r) && !(j >= 2 && Rune.TryGetRuneAt(s, j - 2, out r)))
                break;
            j -= r.Utf16SequenceLength;
            if (IsCaseIgnorable(r))
                continue;
            final = IsCased(r);
            break;
        }
        if (!final)
            return false;
        for (int j = index + 1; j < s.Length;)
        {
            Rune.DecodeFromUtf16(s.AsSpan(j), out Rune r, out int width);
            j += width;
            if (IsCaseIgnorable(r))
                continue;
            return !IsCased(r);
        }
        return true;
    }

    /// <summary>Approximation of Unicode Cased from .NET data (checked against CPython 3.11 for all code points).</summary>
    private static bool IsCased(Rune r)
    {
        int v = r.Value;
        if (v == 0x0345)
            return false;                    // CPython 3.11 does not count it as cased
        if (v is 0xAA or 0xBA || (v >= 0x1F130 && v <= 0x1F149) || (v >= 0x1F150 && v <= 0x1F169) || (v >= 0x1F170 && v <= 0x1F189))
            return true;                     // Other_Lowercase / Other_Uppercase without a case mapping
        var category = Rune.GetUnicodeCategory(r);
        return category is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            || Rune.ToLowerInvariant(r) != r || Rune.ToUpperInvariant(r) != r;
    }

    /// <summary>Unicode Case_Ignorable: Mn, Me, Cf, Lm, Sk, and Word_Break MidLetter / MidNumLet / Single_Quote.</summary>
    private static bool IsCaseIgnorable(Rune r)
    {
        switch (r.Value)
        {
            case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4: case 0x2018: case 0x2019:
            case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
                return true;
        }
        return Rune.GetUnicodeCategory(r) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format
            or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol;
    }

    // ------------------------------------------------------------------ HTML unescape

    /// <summary>
    /// Python 3 <c>html.unescape</c>: the same reference grammar
    /// <c>&amp;(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f &lt;&amp;#;]{1,32};?)</c>, numeric references with the HTML5 rules
    /// (0x80–0x9F as windows-1252, 0 / surrogates / &gt; U+10FFFF → U+FFFD, other invalid code points removed, semicolon optional),
    /// the 106 legacy names that need no semicolon (with Python's longest-prefix rule, e.g. "&amp;notit;" → "¬it;"), and
    /// named references with a semicolon resolved through <see cref="WebUtility.HtmlDecode(string)"/>.
    /// Difference: WebUtility knows only the 253 HTML 4 names, so the other ~1870 HTML5-only names (e.g. "&amp;NewLine;",
    /// "&amp;lpar;", "&amp;check;") stay undecoded here while Python decodes them; "&amp;lang;"/"&amp;rang;" are corrected to
    /// HTML5's U+27E8/U+27E9 (HTML 4 / WebUtility: U+2329/U+232A).
    /// </summary>
    internal static string HtmlUnescape(string s)
    {
        int amp = s.IndexOf('&');
        if (amp < 0)
            return s;
        var sb = new StringBuilder(s.Length);
        int i = 0;
        while (amp >= 0)
        {
            sb.Append(s, i, amp - i);
            if (TryReplaceCharref(s, amp, sb, out int end))
                i = end;
            else
            {
                sb.Append('&');
                i = amp + 1;
            }
            amp = i < s.Length ? s.IndexOf('&', i) : -1;
        }
        sb.Append(s, i, s.Length - i);
        return sb.ToString();
    }

    private static bool TryReplaceCharref(string s, int amp, StringBuilder sb, out int end)
    {
        int p = amp + 1;
        end = p;
        if (p >= s.Length)
            return false;
        if (s[p] == '#')
        {
            bool hex = p + 1 < s.Length && s[p + 1] is 'x' or 'X';
            int q = p + 1;
            // Alternative 1 (#[0-9]+) is tried before alternative 2 (#[xX][0-9a-fA-F]+).
            while (q < s.Length && char.IsAsciiDigit(s[q]))
                q++;
            if (q > p + 1)
                hex = false;
            else if (hex)
            {
                q = p + 2;
                while (q < s.Length && char.IsAsciiHexDigit(s[q]))
                    q++;
                if (q == p + 2)
                    return false;
            }
            else
                return false;
            int digitsStart = hex ? p + 2 : p + 1;
            long value = 0;
            for (int k = digitsStart; k < q && value <= 0x10FFFF; k++)
                value = value * (hex ? 16 : 10) + (hex ? HexValue(s[k]) : s[k] - '0');
            if (q < s.Length && s[q] == ';')
                q++;
            end = q;
            sb.Append(NumericCharref(value));
            return true;
        }

        // [^\t\n\f <&#;]{1,32};?  — 32 code points, not UTF-16 units
        int r = p, codePoints = 0;
        while (r < s.Length && codePoints < 32)
        {
            char c = s[r];
            if (c is '\t' or '\n' or '\f' or ' ' or '<' or '&' or '#' or ';')
                break;
            r += char.IsHighSurrogate(c) && r + 1 < s.Length && char.IsLowSurrogate(s[r + 1]) ? 2 : 1;
            codePoints++;
        }
        if (r == p)
            return false;
        if (r < s.Length && s[r] == ';')
            r++;
        end = r;
        string name = s.Substring(p, r - p);
        string? value1 = LookupEntity(name);
        if (value1 is not null)
        {
            sb.Append(value1);
            return true;
        }
        // Longest prefix (at least 2 characters) that is a legacy name without semicolon.
        for (int x = name.Length - 1; x > 1; x--)
        {
            if (LegacyEntities.TryGetValue(name.Substring(0, x), out char legacy))
            {
                sb.Append(legacy).Append(name, x, name.Length - x);
                return true;
            }
        }
        sb.Append('&').Append(name);
        return true;
    }

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    private static string NumericCharref(long num)
    {
        if (num == 0)
            return "\uFFFD";
        if (num == 0x0D)
            return "\r";
        if (num >= 0x80 && num <= 0x9F)
            return Windows1252[(int)num - 0x80].ToString();
        if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF)
            return "\uFFFD";
        if ((num >= 0x01 && num <= 0x08) || num == 0x0B || (num >= 0x0E && num <= 0x1F) || num == 0x7F
            || (num >= 0xFDD0 && num <= 0xFDEF) || (num & 0xFFFE) == 0xFFFE)
            return string.Empty;
        return char.ConvertFromUtf32((int)num);
    }

    /// <summary>Python's html._invalid_charrefs for 0x80..0x9F (windows-1252; undefined slots stay C1 controls).</summary>
    private const string Windows1252 =
        "\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\u008D\u017D\u008F" +
        "\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\u009D\u017E\u0178";

    /// <summary>Value of a name as Python's html5 table has it (name with or without ';'), or null.</summary>
    private static string? LookupEntity(string name)
    {
        if (!name.EndsWith(';'))
            return LegacyEntities.TryGetValue(name, out char c) ? c.ToString() : null;
        string stem = name.Substring(0, name.Length - 1);
        if (LegacyEntities.TryGetValue(stem, out char legacy))
            return legacy.ToString();        // also covers the HTML5 upper-case aliases AMP; COPY; GT; LT; QUOT; REG;
        if (stem == "lang")
            return "\u27E8";
        if (stem == "rang")
            return "\u27E9";
        string reference = "&" + name;
        string decoded = WebUtility.HtmlDecode(reference);
        return decoded == reference ? null : decoded;
    }

    /// <summary>The names that Python's html5 table holds without a trailing semicolon (all map to one character).</summary>
    private static readonly Dictionary<string, char> LegacyEntities = new(StringComparer.Ordinal)
    {
        ["AElig"] = '\u00C6', ["AMP"] = '&', ["Aacute"] = '\u00C1', ["Acirc"] = '\u00C2',
        ["Agrave"] = '\u00C0', ["Aring"] = '\u00C5', ["Atilde"] = '\u00C3', ["Auml"] = '\u00C4',
        ["COPY"] = '\u00A9', ["Ccedil"] = '\u00C7', ["ETH"] = '\u00D0', ["Eacute"] = '\u00C9',
        ["Ecirc"] = '\u00CA', ["Egrave"] = '\u00C8', ["Euml"] = '\u00CB', ["GT"] = '>',
        ["Iacute"] = '\u00CD', ["Icirc"] = '\u00CE', ["Igrave"] = '\u00CC', ["Iuml"] = '\u00CF',
        ["LT"] = '<', ["Ntilde"] = '\u00D1', ["Oacute"] = '\u00D3', ["Ocirc"] = '\u00D4',
        ["Ograve"] = '\u00D2', ["Oslash"] = '\u00D8', ["Otilde"] = '\u00D5', ["Ouml"] = '\u00D6',
        ["QUOT"] = '\u0022', ["REG"] = '\u00AE', ["THORN"] = '\u00DE', ["Uacute"] = '\u00DA',
        ["Ucirc"] = '\u00DB', ["Ugrave"] = '\u00D9', ["Uuml"] = '\u00DC', ["Yacute"] = '\u00DD',
        ["aacute"] = '\u00E1', ["acirc"] = '\u00E2', ["acute"] = '\u00B4', ["aelig"] = '\u00E6',
        ["agrave"] = '\u00E0', ["amp"] = '&', ["aring"] = '\u00E5', ["atilde"] = '\u00E3',
        ["auml"] = '\u00E4', ["brvbar"] = '\u00A6', ["ccedil"] = '\u00E7', ["cedil"] = '\u00B8',
        ["cent"] = '\u00A2', ["copy"] = '\u00A9', ["curren"] = '\u00A4', ["deg"] = '\u00B0',
        ["divide"] = '\u00F7', ["eacute"] = '\u00E9', ["ecirc"] = '\u00EA', ["egrave"] = '\u00E8',
        ["eth"] = '\u00F0', ["euml"] = '\u00EB', ["frac12"] = '\u00BD', ["frac14"] = '\u00BC',
        ["frac34"] = '\u00BE', ["gt"] = '>', ["iacute"] = '\u00ED', ["icirc"] = '\u00EE',
        ["iexcl"] = '\u00A1', ["igrave"] = '\u00EC', ["iquest"] = '\u00BF', ["iuml"] = '\u00EF',
        ["laquo"] = '\u00AB', ["lt"] = '<', ["macr"] = '\u00AF', ["micro"] = '\u00B5', ["middot"] = '\u00B7',
        ["nbsp"] = '\u00A0', ["not"] = '\u00AC', ["ntilde"] = '\u00F1', ["oacute"] = '\u00F3',
        ["ocirc"] = '\u00F4', ["ograve"] = '\u00F2', ["ordf"] = '\u00AA', ["ordm"] = '\u00BA',
        ["oslash"] = '\u00F8', ["otilde"] = '\u00F5', ["ouml"] = '\u00F6', ["para"] = '\u00B6',
        ["plusmn"] = '\u00B1', ["pound"] = '\u00A3', ["quot"] = '\u0022', ["raquo"] = '\u00BB',
        ["reg"] = '\u00AE', ["sect"] = '\u00A7', ["shy"] = '\u00AD', ["sup1"] = '\u00B9',
        ["sup2"] = '\u00B2', ["sup3"] = '\u00B3', ["szlig"] = '\u00DF', ["thorn"] = '\u00FE',
        ["times"] = '\u00D7', ["uacute"] = '\u00FA', ["ucirc"] = '\u00FB', ["ugrave"] = '\u00F9',
        ["uml"] = '\u00A8', ["uuml"] = '\u00FC', ["yacute"] = '\u00FD', ["yen"] = '\u00A5',
        ["yuml"] = '\u00FF',
    };

    // ------------------------------------------------------------------ pre-tokenizer

    private enum CharClass { Letter, Number, Space, Other, Skipped }

    private static CharClass Classify(Rune r)
    {
        if (r.Value == 0x0345)
            return CharClass.Skipped;        // regex IGNORECASE quirk: U+0345 folds to ι, so neither [\p{L}] nor [^\s\p{L}\p{N}] matches it
        if (r.IsBmp && IsRegexSpace((char)r.Value))
            return CharClass.Space;
        return Rune.GetUnicodeCategory(r) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CharClass.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => CharClass.Number,
            _ => CharClass.Other,
        };
    }

    private static readonly string[] Contractions = { "'s", "'t", "'re", "'ve", "'m", "'ll", "'d" };

    /// <summary>
    /// <c>regex.findall</c> of the CLIP pattern (IGNORECASE) over code points: alternatives are tried in pattern order at each
    /// position, runs are greedy, whitespace (and U+0345) match nothing and are skipped.
    /// </summary>
    internal static List<string> PreTokenize(string s)
    {
        var pieces = new List<string>();
        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            if (c == '<')
            {
                if (MatchesLiteral(s, i, StartOfTextLiteral))
                {
                    pieces.Add(s.Substring(i, StartOfTextLiteral.Length));
                    i += StartOfTextLiteral.Length;
                    continue;
                }
                if (MatchesLiteral(s, i, EndOfTextLiteral))
                {
                    pieces.Add(s.Substring(i, EndOfTextLiteral.Length));
                    i += EndOfTextLiteral.Length;
                    continue;
                }
            }
            else if (c == '\'')
            {
                string? contraction = Array.Find(Contractions, x => MatchesLiteral(s, i, x));
                if (contraction is not null)
                {
                    pieces.Add(s.Substring(i, contraction.Length));
                    i += contraction.Length;
                    continue;
                }
            }

            Rune.DecodeFromUtf16(s.AsSpan(i), out Rune rune, out int width);
            CharClass kind = Classify(rune);
            switch (kind)
            {
                case CharClass.Number:
                    pieces.Add(s.Substring(i, width));
                    i += width;
                    break;
                case CharClass.Letter:
                case CharClass.Other:
                    int j = i + width;
                    while (j < s.Length)
                    {
                        Rune.DecodeFromUtf16(s.AsSpan(j), out Rune nextRune, out int nextWidth);
                        if (Classify(nextRune) != kind)
                            break;
                        j += nextWidth;
                    }
                    pieces.Add(s.Substring(i, j - i));
                    i = j;
                    break;
                default:
                    i += width;
                    break;
            }
        }
        return pieces;
    }

    /// <summary>Case-insensitive match of an ASCII pattern literal; like the regex module, 'ſ' (U+017F) matches 's'.</summary>
    private static bool MatchesLiteral(string s, int index, string literal)
    {
        if (index + literal.Length > s.Length)
            return false;
        for (int k = 0; k < literal.Length; k++)
        {
            char c = s[index + k], l = literal[k];
            if (c == l || (char.IsAsciiLetter(c) && (c | 0x20) == l) || (l == 's' && c == '\u017F'))
                continue;
            return false;
        }
        return true;
    }
}
