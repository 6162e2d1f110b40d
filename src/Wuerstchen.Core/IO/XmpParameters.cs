using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace Wuerstchen.Core.IO;

/// <summary>
/// The generation parameters as an XMP packet, for the formats without PNG's text chunks (JPEG, WebP). XMP is UTF-8
/// XML, so prompts keep every character; ImageSharp writes and reads it for both formats, and exiftool and image
/// editors show it. One property per parameter, under the same names as the PNG text chunks.
/// </summary>
public static class XmpParameters
{
    public static readonly XNamespace Namespace = "http://ns.wuerstchen.invalid/parameters/1.0/";
    private static readonly XNamespace Rdf = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
    private static readonly XNamespace X = "adobe:ns:meta/";

    /// <summary>The packet's bytes (UTF-8, no byte order mark before the xpacket header).</summary>
    public static byte[] Build(IEnumerable<KeyValuePair<string, string>> parameters)
    {
        var description = new XElement(Rdf + "Description",
            new XAttribute(Rdf + "about", ""),
            new XAttribute(XNamespace.Xmlns + "wuerstchen", Namespace.NamespaceName),
            parameters.Select(p => new XElement(Namespace + XmlConvert.EncodeLocalName(p.Key), XmlSafe(p.Value))));
        var meta = new XElement(X + "xmpmeta",
            new XAttribute(XNamespace.Xmlns + "x", X.NamespaceName),
            new XElement(Rdf + "RDF", new XAttribute(XNamespace.Xmlns + "rdf", Rdf.NamespaceName), description));
        var text = "<?xpacket begin=\"\uFEFF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>"
            + meta.ToString(SaveOptions.DisableFormatting)
            + "<?xpacket end=\"w\"?>";
        return new UTF8Encoding(false).GetBytes(text);
    }

    /// <summary>The parameters found in an XMP document (empty when it holds none of ours).</summary>
    public static Dictionary<string, string> Read(XDocument? document)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (document is null)
        {
            return result;
        }

        foreach (var description in document.Descendants(Rdf + "Description"))
        {
            foreach (var element in description.Elements().Where(e => e.Name.Namespace == Namespace))
            {
                result[XmlConvert.DecodeName(element.Name.LocalName)] = element.Value;
            }
        }

        return result;
    }

    // XML cannot hold control characters or a lone surrogate (a prompt may): those become U+FFFD, as UTF-8 text chunks do
    private static string XmlSafe(string value)
    {
        if (value.All(XmlConvert.IsXmlChar))
        {
            return value;
        }

        var sb = new StringBuilder(value.Length);
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (i + 1 < value.Length && XmlConvert.IsXmlSurrogatePair(value[i + 1], c))
            {
                sb.Append(c).Append(value[++i]);
            }
            else
            {
                sb.Append(XmlConvert.IsXmlChar(c) ? c : '\uFFFD');
            }
        }

        return sb.ToString();
    }
}
