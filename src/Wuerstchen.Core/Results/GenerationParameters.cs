using System.Globalization;
using System.Text.Json.Nodes;

namespace Wuerstchen.Core;

// How the PowerShell layer uses this record: a cmdlet never lists the generation parameters itself.
//   - the properties of an image's output object:  foreach (var p in GenerationParameters.Of(image).ToOutputProperties())
//                                                      obj.Properties.Add(new PSNoteProperty(p.Key, p.Value));
//   - the PNG text chunks:                          GenerationParameters.Of(image).ToPngText()  (GeneratedImage.Parameters() does this)
//   - an embedding's row in the .json sidecar:      EmbeddingFile reads and writes it with ToSidecarRow / FromSidecarRow
//   - read back from a PNG's text chunks:           GenerationParameters.FromPngText(chunks)
// The on-disk keys (PNG text, sidecar JSON) are a file format: files written by earlier versions must keep reading
// back, so a key is never renamed here, only added.

/// <summary>
/// What made one embedding or image: prompt, negative prompt, seed, size, steps or timesteps, guidance, model. The one
/// schema of the generation parameters, with its mappings to PNG text, the embedding sidecar's JSON row and the
/// PowerShell output properties, and back.
/// </summary>
public sealed partial record GenerationParameters
{
    public string Prompt { get; init; } = "";

    /// <summary>Null when none was given (the PNG text writes it as "").</summary>
    public string? NegativePrompt { get; init; }

    /// <summary>An image's: the seed its decoder noise came from; an embedding's: the prior's seed.</summary>
    public long Seed { get; init; }

    public int Width { get; init; }
    public int Height { get; init; }
    public int PromptIndex { get; init; }
    public int ImageIndex { get; init; }

    /// <summary>Images per prompt of the batch the image was made in (its place in the batch decides its noise).</summary>
    public int ImagesPerPrompt { get; init; } = 1;

    /// <summary>All prompts of the batch, when it had several; null for a batch of one prompt.</summary>
    public string[]? BatchPrompts { get; init; }
    public int? PriorSteps { get; init; }
    public float[]? PriorTimesteps { get; init; }
    public float? PriorGuidanceScale { get; init; }

    /// <summary>The image prompts' file names (names only: metadata is shared, the folders are the user's); null without.</summary>
    public string[]? ImagePrompts { get; init; }

    /// <summary>The SHA-256 of each image prompt's file: which pictures they were, whatever they are called now.</summary>
    public string[]? ImagePromptSha256 { get; init; }

    /// <summary>img2img: the init image's file name (name only), its SHA-256 and the strength; null for text-to-image.</summary>
    public string? InitImage { get; init; }

    public string? InitImageSha256 { get; init; }

    public double? Strength { get; init; }

    /// <summary>Images only (null for an embedding): the decoder's step count when no timestep list was given.</summary>
    public int? DecoderSteps { get; init; }

    public float[]? DecoderTimesteps { get; init; }
    public float? DecoderGuidanceScale { get; init; }

    /// <summary>Images only: the seed of the prior that made the embedding (equal to <see cref="Seed"/> unless the decoder was reseeded).</summary>
    public long? PriorSeed { get; init; }

    /// <summary>"prompt", "image:&lt;file name&gt;" or "file:&lt;file name&gt;" (the name only: metadata is shared, the folders are the user's).</summary>
    public string Source { get; init; } = "prompt";

    public string? ModelName { get; init; }

    /// <summary>"wuerstchen-v2", "stable-cascade"; null when unknown (a bare .npy, a file from before families).</summary>
    public string? ModelFamily { get; init; }

    /// <summary>An embedding's parameters (no decoder half).</summary>
    public static GenerationParameters Of(WuerstchenEmbedding e) => new()
    {
        Prompt = e.Prompt,
        NegativePrompt = e.NegativePrompt,
        Seed = e.Seed,
        Width = e.Width,
        Height = e.Height,
        PromptIndex = e.PromptIndex,
        ImageIndex = e.ImageIndex,
        ImagesPerPrompt = e.ImagesPerPrompt,
        BatchPrompts = e.BatchPrompts,
        PriorSteps = e.PriorSteps,
        PriorTimesteps = e.PriorTimesteps,
        PriorGuidanceScale = e.PriorGuidanceScale,
        ImagePrompts = e.ImagePrompts,
        ImagePromptSha256 = e.ImagePromptSha256,
        InitImage = e.InitImage,
        InitImageSha256 = e.InitImageSha256,
        Strength = e.Strength,
        Source = e.Source,
        ModelName = e.ModelName,
        ModelFamily = e.Family,
    };

    /// <summary>An image's parameters: its embedding's, with the decoder's settings and any decoder text override.</summary>
    public static GenerationParameters Of(GeneratedImage image)
    {
        var d = image.Decoder;
        return Of(image.Embedding) with
        {
            Prompt = d.Prompt ?? image.Embedding.Prompt,
            NegativePrompt = d.NegativePrompt ?? image.Embedding.NegativePrompt,
            Seed = image.Seed,
            Width = image.Width,
            Height = image.Height,
            DecoderSteps = d.DecoderTimesteps is null ? d.DecoderSteps : null,
            DecoderTimesteps = d.DecoderTimesteps?.ToArray(),
            DecoderGuidanceScale = d.DecoderGuidanceScale,
            PriorSeed = image.Embedding.Seed,
            ModelName = image.ModelName ?? image.Embedding.ModelName,
            ModelFamily = image.ModelFamily ?? image.Embedding.Family,
        };
    }

    /// <summary>
    /// What the image of row <paramref name="row"/> of a request will record, known before it is made (settings with the
    /// family's defaults filled in): New-WuerstchenImage -SkipExisting compares it with an existing file's.
    /// </summary>
    /// <param name="request">The request's <see cref="OfPrior"/> record, made once for all its rows.</param>
    public static GenerationParameters Planned(GenerationParameters request, PriorSettings prior, DecoderSettings decoder, int row)
    {
        var p = request.ForRow(prior, row);
        return p with
        {
            Prompt = decoder.Prompt ?? p.Prompt,
            NegativePrompt = decoder.NegativePrompt ?? p.NegativePrompt,
            Seed = decoder.Seed ?? prior.Seed,
            DecoderSteps = decoder.DecoderTimesteps is null ? decoder.DecoderSteps : null,
            DecoderTimesteps = decoder.DecoderTimesteps?.ToArray(),
            DecoderGuidanceScale = decoder.DecoderGuidanceScale,
            PriorSeed = prior.Seed,
        };
    }

    /// <summary>
    /// Whether an image file's recorded parameters (<see cref="IO.ImageFile.ReadParameters"/>) are these: every key this
    /// record writes, except the software version and the model's name (a renamed or moved folder makes the same image).
    /// </summary>
    public bool IsRecordedIn(IReadOnlyDictionary<string, string> recorded) => ToPngText()
        .Where(kv => kv.Key is not (PngKeys.Software or PngKeys.Model))
        .All(kv => recorded.TryGetValue(kv.Key, out var v) && v == kv.Value);

    /// <summary>
    /// What decoding <paramref name="e"/> with <paramref name="decoder"/> (the family's defaults filled in) will record,
    /// known before it is decoded: ConvertFrom-WuerstchenEmbedding -SkipExisting compares it with an existing file's.
    /// The same fields as <see cref="Of(GeneratedImage)"/> takes from the image.
    /// </summary>
    public static GenerationParameters PlannedDecode(WuerstchenEmbedding e, DecoderSettings decoder, string? modelName, string family) => Of(e) with
    {
        Prompt = decoder.Prompt ?? e.Prompt,
        NegativePrompt = decoder.NegativePrompt ?? e.NegativePrompt,
        Seed = decoder.Seed ?? e.Seed,
        DecoderSteps = decoder.DecoderTimesteps is null ? decoder.DecoderSteps : null,
        DecoderTimesteps = decoder.DecoderTimesteps?.ToArray(),
        DecoderGuidanceScale = decoder.DecoderGuidanceScale,
        PriorSeed = e.Seed,
        ModelName = modelName ?? e.ModelName,
        ModelFamily = family,
    };

    /// <summary>
    /// What the prior records for a request (row 0; <see cref="ForRow"/> gives the others): the one place the prior's
    /// settings become parameters, for the embeddings the prior makes and for what -SkipExisting expects to find. The
    /// input files are read once here (their SHA-256).
    /// </summary>
    public static GenerationParameters OfPrior(PriorSettings prior, LatentSize size, string? modelName, string family) => new()
    {
        Prompt = prior.Prompts[0],
        NegativePrompt = prior.NegativePrompt,
        Seed = prior.Seed,
        Width = size.OutputWidth,
        Height = size.OutputHeight,
        ImagesPerPrompt = prior.ImagesPerPrompt,
        BatchPrompts = prior.Prompts.Count > 1 ? prior.Prompts.ToArray() : null,
        PriorSteps = prior.PriorTimesteps is null ? prior.PriorSteps : null,
        PriorTimesteps = prior.PriorTimesteps?.ToArray(),
        PriorGuidanceScale = prior.PriorGuidanceScale,
        ImagePrompts = ImagePromptNames(prior.ImagePrompts),
        ImagePromptSha256 = ImagePromptHashes(prior.ImagePrompts),
        InitImage = prior.InitImage is { } init ? Path.GetFileName(init) : null,
        InitImageSha256 = prior.InitImage is { } initPath ? IO.FileDigest.Sha256OrEmpty(initPath) : null,
        Strength = prior.InitImage is null ? null : prior.Strength ?? PriorSettings.DefaultStrength,
        ModelName = modelName,
        ModelFamily = family,
    };

    /// <summary>These parameters for row <paramref name="row"/> of the batch (prompt-major): its prompt and place.</summary>
    public GenerationParameters ForRow(PriorSettings prior, int row) => this with
    {
        Prompt = prior.Prompts[row / prior.ImagesPerPrompt],
        PromptIndex = row / prior.ImagesPerPrompt,
        ImageIndex = row % prior.ImagesPerPrompt,
    };

    /// <summary>An embedding with these parameters (the family goes to <see cref="WuerstchenEmbedding.Family"/>).</summary>
    public WuerstchenEmbedding ToEmbedding(int[] shape, float[] data, NoiseStream? stream = null) => new()
    {
        Prompt = Prompt,
        NegativePrompt = NegativePrompt,
        Seed = Seed,
        Width = Width,
        Height = Height,
        Shape = shape,
        Data = data,
        PromptIndex = PromptIndex,
        ImageIndex = ImageIndex,
        ImagesPerPrompt = ImagesPerPrompt,
        BatchPrompts = BatchPrompts,
        PriorSteps = PriorSteps,
        PriorTimesteps = PriorTimesteps,
        PriorGuidanceScale = PriorGuidanceScale,
        ImagePrompts = ImagePrompts,
        ImagePromptSha256 = ImagePromptSha256,
        InitImage = InitImage,
        InitImageSha256 = InitImageSha256,
        Strength = Strength,
        ModelName = ModelName,
        Family = ModelFamily,
        Source = Source,
        Stream = stream,
    };

    /// <summary>PNG tEXt chunks of an image, invariant formatting (floats round-trip: "R").</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ToPngText()
    {
        var ci = CultureInfo.InvariantCulture;
        var list = new List<KeyValuePair<string, string>>
        {
            new(PngKeys.Prompt, Prompt),
            new(PngKeys.NegativePrompt, NegativePrompt ?? ""),
            new(PngKeys.Seed, Seed.ToString(ci)),
            new(PngKeys.Width, Width.ToString(ci)),
            new(PngKeys.Height, Height.ToString(ci)),
            // the image's place in its batch: with these it can be made again on its own (Get-WuerstchenImageInfo)
            new(PngKeys.PromptIndex, PromptIndex.ToString(ci)),
            new(PngKeys.ImageIndex, ImageIndex.ToString(ci)),
            new(PngKeys.ImagesPerPrompt, ImagesPerPrompt.ToString(ci)),
        };
        if (BatchPrompts is { } batch)
        {
            list.Add(new(PngKeys.BatchPrompts, TextArray(batch)));
        }

        if (ImagePrompts is { } images)
        {
            list.Add(new(PngKeys.ImagePrompts, TextArray(images)));
            list.Add(new(PngKeys.ImagePromptSha256, TextArray(ImagePromptSha256 ?? Array.Empty<string>())));
        }

        if (InitImage is { } initImage)
        {
            list.Add(new(PngKeys.InitImage, initImage));
            list.Add(new(PngKeys.InitImageSha256, InitImageSha256 ?? ""));
            list.Add(new(PngKeys.Strength, (Strength ?? PriorSettings.DefaultStrength).ToString("R", ci)));
        }

        if (PriorTimesteps is { } pt)
        {
            list.Add(new(PngKeys.PriorTimesteps, FloatList(pt)));
        }
        else if (PriorSteps is { } ps)
        {
            list.Add(new(PngKeys.PriorSteps, ps.ToString(ci)));
        }

        if (PriorGuidanceScale is { } pg)
        {
            list.Add(new(PngKeys.PriorGuidanceScale, pg.ToString("R", ci)));
        }

        list.Add(DecoderTimesteps is { } dt
            ? new(PngKeys.DecoderTimesteps, FloatList(dt))
            : new(PngKeys.DecoderSteps, (DecoderSteps ?? 0).ToString(ci)));
        list.Add(new(PngKeys.DecoderGuidanceScale, (DecoderGuidanceScale ?? 0f).ToString("R", ci)));
        if (PriorSeed is { } priorSeed && priorSeed != Seed)
        {
            list.Add(new(PngKeys.PriorSeed, priorSeed.ToString(ci)));
        }

        list.Add(new(PngKeys.Source, Source));
        list.Add(new(PngKeys.Model, ModelName ?? ""));
        if (ModelFamily is { } family)
        {
            list.Add(new(PngKeys.ModelFamily, family));
        }

        list.Add(new(PngKeys.Software, "Wuerstchen.PowerShell " + typeof(GenerationParameters).Assembly.GetName().Version?.ToString(3)));
        return list;
    }

    /// <summary>An embedding's row in the .json sidecar of an embedding file (absent values are JSON null).</summary>
    public JsonObject ToSidecarRow() => new()
    {
        ["prompt"] = Prompt,
        ["negative_prompt"] = NegativePrompt,
        ["seed"] = Seed,
        ["width"] = Width,
        ["height"] = Height,
        ["prompt_index"] = PromptIndex,
        ["image_index"] = ImageIndex,
        ["prior_steps"] = PriorSteps,
        ["prior_timesteps"] = PriorTimesteps is null ? null : new JsonArray(PriorTimesteps.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray()),
        ["prior_guidance_scale"] = PriorGuidanceScale,
        ["image_prompts"] = ImagePrompts is null ? null : JsonNode.Parse(TextArray(ImagePrompts)),
        ["image_prompt_sha256"] = ImagePromptSha256 is null ? null : JsonNode.Parse(TextArray(ImagePromptSha256)),
        ["init_image"] = InitImage,
        ["init_image_sha256"] = InitImageSha256,
        ["strength"] = Strength,
        ["model"] = ModelName,
        ["model_family"] = ModelFamily,
        ["source"] = Source,
    };

    /// <summary>
    /// A sidecar row read back (<paramref name="row"/> null: a bare .npy), checked as the command line checks the same
    /// values (<see cref="IO.SidecarRow"/>). Width, height and source are not taken from the row: the file's array shape
    /// and path are what the embedding is now.
    /// </summary>
    /// <exception cref="InvalidDataException">A value of the wrong type or out of range (naming the row, key and value).</exception>
    public static GenerationParameters FromSidecarRow(JsonNode? row, int index) => row switch
    {
        null => new GenerationParameters { PromptIndex = index },
        JsonObject o => IO.SidecarRow.Read(o, index),
        _ => throw new InvalidDataException($"its row {index} is not a JSON object."),
    };

    /// <summary>The properties of an image's PowerShell output object, in display order.</summary>
    public IReadOnlyList<KeyValuePair<string, object?>> ToOutputProperties() => new KeyValuePair<string, object?>[]
    {
        new("Prompt", Prompt),
        new("NegativePrompt", NegativePrompt),
        new("Seed", Seed),
        new("Width", Width),
        new("Height", Height),
        new("PromptIndex", PromptIndex),
        new("ImageIndex", ImageIndex),
        new("ImagesPerPrompt", ImagesPerPrompt),
        new("BatchPrompts", BatchPrompts),
        new("PriorSteps", PriorSteps),
        new("PriorTimesteps", PriorTimesteps),
        new("PriorGuidanceScale", PriorGuidanceScale),
        // named as the parameters they bind to: Get-WuerstchenImageInfo | New-WuerstchenImage passes the recorded file
        // names on literally (relative to the current folder: the metadata records no directories) with their SHA-256,
        // which the remake checks
        new("LiteralImagePrompt", ImagePrompts),
        new("ImagePromptSha256", ImagePromptSha256),
        new("LiteralInitImage", InitImage),
        new("InitImageSha256", InitImageSha256),
        new("Strength", Strength),
        new("DecoderSteps", DecoderSteps),
        new("DecoderTimesteps", DecoderTimesteps),
        new("DecoderGuidanceScale", DecoderGuidanceScale),
        new("PriorSeed", PriorSeed),
        new("Source", Source),
        new("ModelName", ModelName),
        new("ModelFamily", ModelFamily),
    };
}
