using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Wuerstchen.Core.Text;
using Xunit;

namespace Wuerstchen.Core.Tests;

/// <summary>
/// Tests of <see cref="ClipTokenizer"/> against the CLIP vocabulary in models/standin/prior_tokenizer (identical to OpenAI's
/// bpe_simple_vocab_16e6).
///
/// Where the expected ids come from:
/// <list type="bullet">
/// <item>"a photo of a cat" and "": known OpenAI CLIP values (the empty prompt is also in docs/spec).</item>
/// <item>Single words: the id is looked up in vocab.json by the test itself ("cat&lt;/w&gt;" etc.). Not every vocabulary
///   entry is reachable by the merges, but for these words OpenAI's tokenizer does produce that single entry (checked with
///   the Python port below).</item>
/// <item>The fixed id lists in <see cref="MatchesOpenAiSimpleTokenizer"/>: computed with OpenAI's simple_tokenizer.py run
///   verbatim in Python 3.11 (with the `regex` module) on these very vocab.json/merges.txt files, except that ftfy.fix_text
///   was replaced by NFC (ftfy is not installed; apart from NFC, ftfy would change only the U+001C case, whose control
///   characters it deletes — this tokenizer, like Hugging Face's fast one, does not emulate ftfy). That port also
///   asserted that vocab.json equals OpenAI's own construction of the vocabulary from merges.txt.</item>
/// <item><see cref="BpeMatchesLiteralPortOfOpenAiBpe"/>: a slow literal C# port of OpenAI's bpe() loop inside this file,
///   used as a differential reference on random words.</item>
/// </list>
/// </summary>
public class ClipTokenizerTests
{
    private const int Bos = 49406, Eos = 49407, Pad = 49407;

    private static readonly Lazy<ClipTokenizer> SharedTokenizer = new(() => ClipTokenizer.FromFolder(TokenizerFolder));
    private static readonly Lazy<Dictionary<string, int>> Vocab = new(() =>
        JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(Path.Combine(TokenizerFolder, "vocab.json")))!);

    private static string TokenizerFolder => Path.Combine(TestPaths.StandinModels, "prior_tokenizer");
    private static ClipTokenizer Tok => SharedTokenizer.Value;

    private static long[] Row(params int[] content)
    {
        var row = new List<long> { Bos };
        row.AddRange(content.Select(x => (long)x));
        row.Add(Eos);
        while (row.Count < 77)
            row.Add(Pad);
        return row.ToArray();
    }

    private static long[] Mask(int ones) => Enumerable.Range(0, 77).Select(i => i < ones ? 1L : 0L).ToArray();

    [Fact]
    public void PhotoOfACat_MatchesOpenAiReferenceIds()
    {
        var result = Tok.Encode("a photo of a cat");

        Assert.Equal(77, Tok.MaxLength);
        Assert.Equal(Row(320, 1125, 539, 320, 2368), result.InputIds);
        Assert.Equal(Mask(7), result.AttentionMask);
        Assert.Equal(5, result.TokenCount);
        Assert.False(result.Truncated);
        Assert.Null(result.TruncatedText);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\t\r\n \u00A0\u3000")]
    [InlineData(null)]
    public void EmptyOrBlankPrompt_IsBosEosThenPadding(string? text)
    {
        var result = Tok.Encode(text!);

        var expectedIds = new long[77];
        Array.Fill(expectedIds, 49407L);
        expectedIds[0] = 49406;
        Assert.Equal(expectedIds, result.InputIds);
        Assert.Equal(Mask(2), result.AttentionMask);
        Assert.Equal(0, result.TokenCount);
        Assert.False(result.Truncated);
        Assert.Empty(Tok.EncodeContent(text!));
    }

    [Theory]
    [InlineData("cat")]
    [InlineData("photo")]
    [InlineData("lighthouse")]
    [InlineData("dusk")]
    [InlineData("hello")]
    [InlineData("world")]
    public void SingleVocabularyWord_IsItsEndOfWordVocabId(string word)
    {
        int expected = Vocab.Value[word + "</w>"];

        Assert.Equal(new[] { expected }, Tok.EncodeContent(word));
        Assert.Equal(new[] { expected }, Tok.EncodeContent(word.ToUpperInvariant()));   // lower-cased first
    }

    [Fact]
    public void CaseAndWhitespace_AreNormalized()
    {
        var v = Vocab.Value;
        int[] expected = { v["hello</w>"], v[",</w>"], v["world</w>"], v["!</w>"] };   // 3306 267 1002 256

        Assert.Equal(expected, Tok.EncodeContent("Hello, World!"));
        Assert.Equal(expected, Tok.EncodeContent("  HELLO,\t\n world!  "));
        Assert.Equal(Tok.Encode("a b").InputIds, Tok.Encode("A  B").InputIds);
        Assert.Equal(Tok.Encode("a b").InputIds, Tok.Encode("\u2003a\u00A0\r\nB ").InputIds);
        Assert.Equal(new[] { v["a</w>"], v["b</w>"] }, Tok.EncodeContent("A  B"));
    }

    [Fact]
    public void HtmlEntities_AreUnescapedTwice()
    {
        var v = Vocab.Value;

        Assert.Equal(new[] { v["&</w>"] }, Tok.EncodeContent("&amp;"));          // 261
        Assert.Equal(new[] { v["&</w>"] }, Tok.EncodeContent("&amp;amp;"));      // unescaped twice
        Assert.Equal(Tok.EncodeContent("&amp;"), Tok.EncodeContent("&"));
        Assert.Equal(Tok.EncodeContent("<b>bold</b>"), Tok.EncodeContent("&lt;b&gt;bold&lt;/b&gt;"));
        Assert.Equal(Tok.EncodeContent("AB"), Tok.EncodeContent("&#65;&#x42;"));
        Assert.Equal(Tok.EncodeContent("caf\u00E9"), Tok.EncodeContent("caf&eacute;"));
        // Python-only rules: no semicolon needed for numeric and legacy names; longest legacy prefix; 0x80 is windows-1252.
        Assert.Equal(new[] { 126, 361, 585, 282, 261, 3937, 6309 }, Tok.EncodeContent("&notit; &amp;amp; &#65&#x42; &#128;"));
        // Not a reference: left alone ("&bogus;" pre-tokenizes to "&", "bogus", ";").
        Assert.Equal(new[] { v["&</w>"], v["amp</w>"] }, Tok.EncodeContent("& amp"));
        Assert.Equal(Tok.EncodeContent("& bogus ;"), Tok.EncodeContent("&bogus;"));
    }

    [Fact]
    public void ContractionsAndDigits_SplitLikeTheClipPattern()
    {
        var v = Vocab.Value;

        Assert.Equal(new[] { v["don</w>"], v["'t</w>"] }, Tok.EncodeContent("don't"));                 // 847 713
        Assert.Equal(new[] { v["2</w>"], v["0</w>"], v["2</w>"], v["4</w>"] }, Tok.EncodeContent("2024"));  // one digit each
        Assert.Equal(new[] { 585, 568, 518, 2368, 568, 37231, 267, 649, 982, 3797 }, Tok.EncodeContent("it's the cat's pajamas, we're fine"));
    }

    /// <summary>Ids produced by OpenAI's simple_tokenizer.py on the same vocabulary (see the class comment).</summary>
    [Theory]
    [InlineData("Anthropomorphic cat dressed as a fire fighter", new[] { 10019, 7548, 523, 3977, 2368, 6559, 601, 320, 1769, 6438 })]
    [InlineData("An astronaut riding a horse on Mars, 4k, highly detailed, trending on artstation",
        new[] { 550, 18376, 6765, 320, 4558, 525, 7496, 267, 275, 330, 267, 5302, 12609, 267, 6087, 525, 1486, 2631 })]
    [InlineData("a lighthouse at dusk", new[] { 320, 13717, 536, 19708 })]
    [InlineData("blurry, low quality", new[] { 21977, 267, 1042, 3027 })]
    [InlineData("caf\u00E9 na\u00EFve", new[] { 15304, 1097, 35689, 563 })]
    [InlineData("cafe\u0301", new[] { 15304 })]                                                     // NFC first
    [InlineData("\u65E5\u672C\u8A9E\u306E\u6587\u7AE0", new[] { 39121, 44353, 34002, 252, 21575, 29032, 229, 163, 104, 510 })]
    [InlineData("\u039F\u0394\u039F\u03A3 \u03A3\u039F\u03A6\u0399\u0391\u03A3.",                  // final sigma: "οδος σοφιας."
        new[] { 138, 123, 138, 112, 138, 123, 139, 480, 139, 225, 138, 123, 139, 228, 138, 117, 138, 109, 139, 480, 269 })]
    [InlineData("\u0130stanbul", new[] { 328, 16384, 11231 })]                                     // Python: "İ".lower() == "i\u0307"
    [InlineData("<|startoftext|>hello<|ENDOFTEXT|>", new[] { 49406, 3306, 49407 })]                 // literal specials
    [InlineData("!<|endoftext|>", new[] { 0, 27, 347, 40786, 4160, 91, 285 })]                     // "!<|" is one punctuation run
    [InlineData("\U0001D400\U0001D401c", new[] { 15889, 222, 15889, 223, 322 })]                   // astral letters are \p{L}
    [InlineData("\U0001F431 cat", new[] { 22979, 2368 })]
    [InlineData("rock'n'roll", new[] { 2172, 262, 333, 262, 3341 })]
    [InlineData("\u001Cx\u001C y\u001Cz \u001C", new[] { 343, 472, 344, 472, 345 })]              // U+001C: str.strip() removes it, regex \s does not (ftfy would delete it)
    [InlineData("x\u0345y", new[] { 343, 344 })]                                                   // regex IGNORECASE quirk
    [InlineData("'\u017F", new[] { 6, 129, 379 })]                                                 // 'ſ matches the 's alternative
    public void MatchesOpenAiSimpleTokenizer(string text, int[] expected)
    {
        Assert.Equal(expected, Tok.EncodeContent(text));
    }

    [Fact]
    public void LongPrompt_IsTruncatedTo75ContentTokens_WithEosLast()
    {
        string text = string.Concat(Enumerable.Repeat("a ", 5000));          // 10,000 characters, 5,000 tokens "a</w>"
        Assert.Equal(10_000, text.Length);

        var result = Tok.Encode(text);

        Assert.True(result.Truncated);
        Assert.Equal(5000, result.TokenCount);
        Assert.Equal(77, result.InputIds.Length);
        Assert.Equal(49406, result.InputIds[0]);
        Assert.All(result.InputIds.Skip(1).Take(75), id => Assert.Equal(320, id));
        Assert.Equal(49407, result.InputIds[76]);
        Assert.Equal(Mask(77), result.AttentionMask);
        Assert.Equal(string.Join(' ', Enumerable.Repeat("a", 4925)), result.TruncatedText);
    }

    [Fact]
    public void TruncationBoundary_75FitsAnd76DoesNot()
    {
        var exactly75 = Tok.Encode(string.Join(' ', Enumerable.Repeat("cat", 75)));
        Assert.False(exactly75.Truncated);
        Assert.Null(exactly75.TruncatedText);
        Assert.Equal(75, exactly75.TokenCount);
        Assert.Equal(49407, exactly75.InputIds[76]);
        Assert.Equal(Mask(77), exactly75.AttentionMask);

        var seventySix = Tok.Encode(string.Join(' ', Enumerable.Repeat("cat", 75)) + " lighthouse");
        Assert.True(seventySix.Truncated);
        Assert.Equal(76, seventySix.TokenCount);
        Assert.Equal("lighthouse", seventySix.TruncatedText);
        Assert.Equal(exactly75.InputIds, seventySix.InputIds);
    }

    [Fact]
    public void CustomMaxLength_ShapesTheRow()
    {
        var tok = ClipTokenizer.FromFolder(TokenizerFolder, maxLength: 5);

        var result = tok.Encode("a photo of a cat");

        Assert.Equal(5, tok.MaxLength);
        Assert.Equal(new long[] { 49406, 320, 1125, 539, 49407 }, result.InputIds);
        Assert.Equal(new long[] { 1, 1, 1, 1, 1 }, result.AttentionMask);
        Assert.True(result.Truncated);
        Assert.Equal("a cat", result.TruncatedText);
    }

    [Fact]
    public void Decode_ReturnsNormalizedTextWithWordBoundaries()
    {
        Assert.Equal("a photo of a cat", Tok.Decode(Tok.EncodeContent("A photo of a CAT")));
        Assert.Equal("cat !", Tok.Decode(new[] { 2368, 256 }));
        Assert.Equal("\u65E5\u672C\u8A9E\u306E\u6587\u7AE0", Tok.Decode(Tok.EncodeContent("\u65E5\u672C\u8A9E\u306E\u6587\u7AE0")));
        Assert.Equal("caf\u00E9 \U0001F431", Tok.Decode(Tok.EncodeContent("Cafe\u0301 \U0001F431")));
        Assert.Equal(string.Empty, Tok.Decode(new[] { -1, 1_000_000 }));     // unknown ids are skipped, no exception
    }

    [Fact]
    public void LoneSurrogatesAndControls_AreHandled()
    {
        Assert.Equal(Tok.EncodeContent("\uFFFD"), Tok.EncodeContent("\uD800"));
        Assert.Equal(Tok.EncodeContent("a\uFFFDb\uFFFD"), Tok.EncodeContent("a\uDC00b\uD83D"));
        Assert.NotEmpty(Tok.EncodeContent("\u0000\u0001\u007F"));
        Assert.Equal(Tok.EncodeContent("\U0001F600"), Tok.EncodeContent("\uD83D\uDE00"));
    }

    /// <summary>Literal C# port of OpenAI's bpe() loop, used as a slow reference for the tokenizer's heap-based BPE.</summary>
    [Fact]
    public void BpeMatchesLiteralPortOfOpenAiBpe()
    {
        var ranks = new Dictionary<(string, string), int>();
        foreach (string line in File.ReadLines(Path.Combine(TokenizerFolder, "merges.txt")).Skip(1))
        {
            var parts = line.Split(' ');
            if (parts.Length == 2)
                ranks[(parts[0], parts[1])] = ranks.Count;
        }
        var byteToChar = BytesToUnicode();
        var random = new Random(20240229);
        const string alphabet = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzeeeeaaaaoooo\u00E9\u00E8\u00E0\u00E7\u00F1\u00F8\u00E5\u00E4\u00F6\u00FC\u00DF\u0430\u0431\u0432\u0433\u0434\u0435\u0436\u65E5\u672C\u8A9E";
        int compared = 0;
        for (int n = 0; n < 400; n++)
        {
            int length = n < 380 ? random.Next(1, 25) : random.Next(100, 400);
            string word = new(Enumerable.Range(0, length).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
            var symbols = Encoding.UTF8.GetBytes(word).Select(b => byteToChar[b].ToString()).ToList();
            symbols[^1] += "</w>";
            var expected = LiteralOpenAiBpe(symbols, ranks).Select(s => Vocab.Value[s]).ToArray();

            Assert.Equal(expected, Tok.EncodeContent(word));
            compared++;
        }
        Assert.Equal(400, compared);
    }

    private static List<string> LiteralOpenAiBpe(List<string> word, Dictionary<(string, string), int> ranks)
    {
        while (word.Count > 1)
        {
            (string First, string Second)? best = null;
            int bestRank = int.MaxValue;
            for (int i = 0; i + 1 < word.Count; i++)
                if (ranks.TryGetValue((word[i], word[i + 1]), out int r) && r < bestRank)
                {
                    bestRank = r;
                    best = (word[i], word[i + 1]);
                }
            if (best is null)
                break;
            var merged = new List<string>();
            for (int i = 0; i < word.Count;)
            {
                if (i + 1 < word.Count && word[i] == best.Value.First && word[i + 1] == best.Value.Second)
                {
                    merged.Add(word[i] + word[i + 1]);
                    i += 2;
                }
                else
                    merged.Add(word[i++]);
            }
            word = merged;
        }
        return word;
    }

    private static char[] BytesToUnicode()
    {
        var map = new char[256];
        int n = 0;
        for (int b = 0; b < 256; b++)
            map[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE) ? (char)b : (char)(256 + n++);
        return map;
    }

    private static string RandomNastyString(Random random, int maxLength)
    {
        string[] fragments = { "&amp;", "&#", "&#x", "&lt", "<|endoftext|>", "<|startoftext|>", "'s", "'LL", " ", "\t", "\n", "\u3000",
            "\u03A3", "\u0130", "\u0345", "\u017F", "\u0301", "&", ";", "\u200D", "\uFEFF" };
        var sb = new StringBuilder();
        int length = random.Next(0, maxLength + 1);
        while (sb.Length < length)
        {
            switch (random.Next(9))
            {
                case 0: sb.Append((char)random.Next(0x20, 0x7F)); break;                                    // ASCII
                case 1: sb.Append((char)random.Next(0x0300, 0x0370)); break;                                // combining marks
                case 2: sb.Append((char)random.Next(0xD800, 0xE000)); break;                                // lone surrogate
                case 3: sb.Append(char.ConvertFromUtf32(random.Next(0x10000, 0x110000))); break;          // astral pair
                case 4: sb.Append((char)random.Next(0, 0x10000)); break;                                    // any UTF-16 unit
                case 5: sb.Append((char)random.Next(0, 0x20)); break;                                       // controls
                case 6: sb.Append(fragments[random.Next(fragments.Length)]); break;
                case 7: sb.Append("&#").Append(random.Next(0, 2_000_000)).Append(random.Next(2) == 0 ? ";" : ""); break;
                default: sb.Append((char)random.Next(0x0370, 0x3100)); break;                             // Greek .. CJK
            }
        }
        return sb.ToString();
    }

    private static void AssertWellFormed(TokenizedPrompt result)
    {
        Assert.Equal(77, result.InputIds.Length);
        Assert.Equal(77, result.AttentionMask.Length);
        int kept = Math.Min(result.TokenCount, 75);
        Assert.Equal(49406, result.InputIds[0]);
        Assert.Equal(49407, result.InputIds[kept + 1]);
        for (int i = 0; i < 77; i++)
        {
            Assert.InRange(result.InputIds[i], 0, 49407);
            Assert.Equal(i <= kept + 1 ? 1 : 0, result.AttentionMask[i]);
            if (i > kept + 1)
                Assert.Equal(49407, result.InputIds[i]);
        }
        Assert.Equal(result.TokenCount > 75, result.Truncated);
        Assert.Equal(result.Truncated, result.TruncatedText is not null);
    }

    [Fact]
    public void Fuzz_RandomUnicode_NeverThrowsAndIsWellFormed()
    {
        var random = new Random(12345);
        int truncatedSeen = 0;
        for (int n = 0; n < 3000; n++)
        {
            string text = RandomNastyString(random, n % 100 == 0 ? 2000 : 120);

            var result = Tok.Encode(text);
            AssertWellFormed(result);
            Assert.Equal(result.TokenCount, Tok.EncodeContent(text).Count);
            Assert.NotNull(Tok.Decode(Tok.EncodeContent(text)));
            if (result.Truncated)
                truncatedSeen++;
        }
        Assert.True(truncatedSeen > 0, "the fuzz set should include prompts that need truncation");
    }

    [Fact]
    public void HugeInput_100kCharacters_IsHandled()
    {
        var random = new Random(7);
        string nasty = RandomNastyString(random, 100_000);
        string oneWord = new('x', 100_000);          // one 100,000-letter piece: exercises the O(n log n) BPE

        var a = Tok.Encode(nasty);
        var b = Tok.Encode(oneWord);

        AssertWellFormed(a);
        AssertWellFormed(b);
        Assert.True(a.TokenCount > 75);
        Assert.True(b.TokenCount > 75);
        Assert.Equal(string.Concat(Enumerable.Repeat("x", 100_000)), Tok.Decode(Tok.EncodeContent(oneWord)).Replace(" ", ""));
    }

    [Fact]
    public void ConcurrentEncode_GivesTheSameIdsAsSequential()
    {
        var random = new Random(99);
        var prompts = Enumerable.Range(0, 300)
            .Select(i => i % 3 == 0 ? RandomNastyString(random, 200) : $"a photo of {i} cats, {(i % 2 == 0 ? "highly detailed" : "oil painting")} #{i}")
            .ToArray();
        var expected = prompts.Select(p => Tok.Encode(p)).ToArray();
        var fresh = ClipTokenizer.FromFolder(TokenizerFolder);                 // cold cache: threads race to fill it
        var failures = new ConcurrentBag<int>();

        Parallel.For(0, 6000, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(4, Environment.ProcessorCount) }, i =>
        {
            int k = (i * 7919) % prompts.Length;
            var got = fresh.Encode(prompts[k]);
            if (!got.InputIds.AsSpan().SequenceEqual(expected[k].InputIds) || !got.AttentionMask.AsSpan().SequenceEqual(expected[k].AttentionMask)
                || got.TokenCount != expected[k].TokenCount || got.TruncatedText != expected[k].TruncatedText)
                failures.Add(k);
        });

        Assert.Empty(failures);
    }

    [Fact]
    public void FromFolder_ReportsMissingAndMalformedFiles()
    {
        string dir = Path.Combine(Path.GetTempPath(), "cliptok-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var missingVocab = Assert.Throws<FileNotFoundException>(() => ClipTokenizer.FromFolder(dir));
            Assert.Contains("vocab.json", missingVocab.Message);
            Assert.EndsWith("vocab.json", missingVocab.FileName);

            File.Copy(Path.Combine(TokenizerFolder, "vocab.json"), Path.Combine(dir, "vocab.json"));
            var missingMerges = Assert.Throws<FileNotFoundException>(() => ClipTokenizer.FromFolder(dir));
            Assert.Contains("merges.txt", missingMerges.Message);

            File.WriteAllText(Path.Combine(dir, "merges.txt"), "#version: 0.2\ni n\nthis line is bad\n");
            var badMerges = Assert.Throws<InvalidDataException>(() => ClipTokenizer.FromFolder(dir));
            Assert.Contains("merges.txt", badMerges.Message);
            Assert.Contains("line 3", badMerges.Message);

            File.WriteAllText(Path.Combine(dir, "vocab.json"), "{ not json");
            var badVocab = Assert.Throws<InvalidDataException>(() => ClipTokenizer.FromFolder(dir));
            Assert.Contains("vocab.json", badVocab.Message);

            File.WriteAllText(Path.Combine(dir, "vocab.json"), "{\"a\": 0}");
            var notByteLevel = Assert.Throws<InvalidDataException>(() => ClipTokenizer.FromFolder(dir));
            Assert.Contains("vocab.json", notByteLevel.Message);

            Assert.Throws<ArgumentOutOfRangeException>(() => ClipTokenizer.FromFolder(TokenizerFolder, maxLength: 1));
            var badId = Assert.Throws<InvalidDataException>(() => ClipTokenizer.FromFolder(TokenizerFolder, bosTokenId: 60000));
            Assert.Contains("60000", badId.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
