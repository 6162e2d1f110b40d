using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Wuerstchen.Core.IO;

/// <summary>
/// The JSON the module writes (embedding sidecars, an image's batch_prompts) and the one check the JSON it reads
/// (model_index.json, sidecars) gets before its values are used.
/// </summary>
public static class JsonText
{
    /// <summary>
    /// Texts as they are: the default encoder writes every non-ASCII character and even '&lt;', '&gt;', '&amp;' and '\''
    /// as six-byte \uXXXX escapes (it is made for HTML pages), which made a prompt of '&lt;' six times its length on disk
    /// and past what the readers take back. These files are never embedded in HTML; control characters, '"' and '\\'
    /// are still escaped, as JSON requires.
    /// </summary>
    public static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary><see cref="Compact"/>, indented (a sidecar is meant to be read by people too).</summary>
    public static readonly JsonSerializerOptions Indented = new(Compact) { WriteIndented = true };

    /// <summary>
    /// Refuses a key repeated in one object: which of the two values a reader takes differs between readers (System.Text.Json's
    /// JsonDocument keeps both, Python keeps the last), so a repeated "family" or "seed" is ambiguous, never silently one of them.
    /// </summary>
    /// <exception cref="InvalidDataException">A key appears twice in one object (the message names it).</exception>
    /// <exception cref="JsonException">The text is not valid JSON.</exception>
    public static void CheckUniqueKeys(string json)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json), new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        var open = new Stack<HashSet<string>?>(); // one set per open object; null for an open array
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                    open.Push(new HashSet<string>(StringComparer.Ordinal));
                    break;
                case JsonTokenType.StartArray:
                    open.Push(null);
                    break;
                case JsonTokenType.EndObject or JsonTokenType.EndArray:
                    open.Pop();
                    break;
                case JsonTokenType.PropertyName:
                    var name = reader.GetString()!;
                    if (!open.Peek()!.Add(name))
                    {
                        throw new InvalidDataException($"the key '{TextExcerpt.Of(name)}' appears twice in one object (at byte {reader.TokenStartIndex}); which value is meant is ambiguous. Keep one.");
                    }

                    break;
            }
        }
    }
}
