namespace Wuerstchen.Core;

/// <summary>
/// Recognises model folders laid out by other tools, so Test-WuerstchenModel can say what the folder is and what to do
/// instead of listing every file this module's contract expects. Today: TensorStack's public Stable Cascade ONNX export
/// (TensorStack/StableCascade-amuse, made by OnnxStack's converter).
/// </summary>
internal static class ForeignLayout
{
    private static readonly string[] TensorStackFolders = { "tokenizer", "text_encoder", "prior", "decoder", "vae_decoder" };

    /// <summary>A one-result report for a foreign layout, or null when the folder is not one.</summary>
    public static ModelCheckResult? Describe(ModelFolder model)
    {
        // an exported folder of ours has vqgan/; TensorStack's names Stage A vae_decoder/
        if (Directory.Exists(Path.Combine(model.Root, "vqgan")) || !Directory.Exists(Path.Combine(model.Root, "vae_decoder")))
        {
            return null;
        }

        var present = TensorStackFolders.Where(f => Directory.Exists(Path.Combine(model.Root, f))).ToList();
        if (present.Count < 3)
        {
            return null;
        }

        var result = new ModelCheckResult { Stage = "Folder", Path = model.Root };
        result.Fail("ForeignModelLayout",
            $"'{model.Root}' looks like TensorStack's Stable Cascade ONNX export (TensorStack/StableCascade-amuse; it has {string.Join(", ", present.Select(f => f + "/"))}). " +
            "This module cannot use it as it is: its graphs are optimised for DirectML on Windows, its text encoder returns every hidden_states.N and last_hidden_state " +
            "where this module reads the last layer's pre-norm state and text_embeds under its own names, Stage A's output is named latent_sample instead of image, " +
            "and the folder has no model_index.json with the family's constants (resolution_multiple, latent_dim_scale, the tokenizer's pad id). " +
            "Export the diffusers repositories instead: python3 models/export/export_wuerstchen.py --prior-repo stabilityai/stable-cascade-prior " +
            "--decoder-repo stabilityai/stable-cascade --output <folder> (README: 'Getting the real models').",
            "a folder exported by models/export/export_wuerstchen.py (model_index.json, tokenizer/, text_encoder/, prior/, decoder/, vqgan/)",
            "TensorStack's layout: " + string.Join(", ", present), ModelCheckStatus.Invalid);
        return result;
    }
}
