@{
    # default values Get-Help shows ('Default value'); parameters not listed show None
    Defaults = @{
        ExecutionProvider    = 'Auto'
        DeviceId             = '0'
        GpuMemoryLimitMB     = '0 (no limit)'
        OutputPath           = 'the current folder'
        Width                = '1024'
        Height               = '1024'
        ImagesPerPrompt      = '1'
        Seed                 = 'a random seed, reported on the output'
        PriorSteps           = 'the model family''s (Würstchen v2 60, Stable Cascade 20)'
        PriorGuidanceScale   = '4.0'
        DecoderSteps         = 'the model family''s (Würstchen v2 12, Stable Cascade 10)'
        DecoderGuidanceScale = '0 (off)'
        Quality              = '90'
        NegativePrompt       = 'the empty prompt'
        ModelPath            = '$env:WUERSTCHEN_MODEL_PATH, else <LocalApplicationData>/Wuerstchen/models/wuerstchen-v2'
        Strength             = '0.8 (with -InitImage)'
    }

    # descriptions of parameters several cmdlets share
    CommonParameters = @{
        ModelPath          = 'The model folder (see the model contract in the README). When omitted, $env:WUERSTCHEN_MODEL_PATH is used, else the default folder <LocalApplicationData>/Wuerstchen/models/wuerstchen-v2 (~/.local/share/Wuerstchen/models/wuerstchen-v2 on Linux, %LOCALAPPDATA%\Wuerstchen\models\wuerstchen-v2 on Windows). Binds by property name.'
        ExecutionProvider  = 'Where the networks run. Auto (default) uses CUDA when its libraries load and otherwise falls back to the CPU with a warning that names what was missing; Cuda fails instead of falling back; Cpu never tries CUDA.'
        DeviceId           = 'The CUDA device to use (default 0).'
        GpuMemoryLimitMB   = "Upper bound, in MiB, of ONNX Runtime's CUDA memory arena (0 = no limit). The arena grows only by what is requested."
        LowMemory          = 'Releases each stage''s networks as soon as the stage is done instead of keeping them cached for the next call. Slower for repeated calls; for GPUs that cannot hold all stages at once.'
        OutputPath         = 'A folder (created if missing) or a file name whose extension picks the format: .png (lossless), .jpg/.jpeg or .webp (lossy, see -Quality); each carries the generation parameters (PNG text chunks, XMP for JPEG and WebP). Any other extension (.gif, .tiff, a typo such as .jpgg) is the error UnsupportedImageFormat; a name without an extension, or an existing folder, is a folder (create a folder whose name has a dot first). In a folder, images get readable unique PNG names: prompt slug, seed and the image''s ImageIndex (a counter is added when the name is taken), the same from New-WuerstchenImage and from Get-WuerstchenEmbedding | ConvertFrom-WuerstchenEmbedding. With a file name, the second and later images of a call get -1, -2 … before the extension (out.jpg, out-1.jpg …). Default: the current folder. From a record (a CSV OutputPath column, an object''s property) the path is relative to the current folder and may not leave it (absolute, ~, .. or a symbolic link out of it is the error RecordOutputPathOutside for that record) unless -AllowRecordOutputPath is given.'
        Quality            = '(Binds by property name, so a Quality column sets it per row.) The quality of a .jpg/.jpeg or .webp output, 1 (smallest file) to 100 (best picture). Default 90. PNG output is lossless and ignores it.'
        WhatIf             = 'Shows the files that would be written without loading any model or writing anything.'
        Confirm            = 'Asks for confirmation before each file is written (the batch is still generated as one, so the seed gives the same images).'
        Force              = 'Overwrites files that existed before the run (never another image of the same run: the images of one pipeline run are numbered, r.png, r-1.png …). Without it an existing output file that holds the same image is an error (see -SkipExisting) and nothing is written for it.'
        BatchPrompts       = 'All prompts of the batch an image was made in (Get-WuerstchenImageInfo gives them; text may be a JSON array). The batch is made again, so each image gets the noise it had, and only the images that -Prompt, -PromptIndex and -ImageIndex pick are written (or, from Get-WuerstchenEmbedding, emitted).'
        ImagePrompt        = 'Images that condition the prior together with the prompt: Stable Cascade image variation, as diffusers'' StableCascadePriorPipeline(images=[...]) does it. Each image is prepared as the model folder''s feature_extractor says (CLIPImageProcessor: shortest side resized with PIL''s bicubic, centre crop, CLIP mean and std), encoded by image_encoder/model.onnx, and every image goes to every image of the batch (the unconditional half of guidance gets zeros). A prompt is still needed (-Prompt '''' for images alone). Wildcards expand and must match at least one file; a CSV cell may list several files separated by ";". The output records the images'' file names (ImagePrompt) and SHA-256 digests (ImagePromptSha256), so Get-WuerstchenImageInfo | New-WuerstchenImage remakes an image when the files are in the current folder. Würstchen v2 has no image encoder for the prior (NetworkNotInFamily); for an embedding of a photo use Get-WuerstchenEmbedding -ImagePath. At most 16 images.'
        LiteralImagePrompt = 'Image prompts used exactly as written: no wildcards and no ";" lists. Combines with -ImagePrompt (those come first). Get-WuerstchenImageInfo gives an image''s recorded image prompts under this name, so a remake reads them literally.'
        ImagePromptSha256  = 'The SHA-256 each image prompt must have, in order (Get-WuerstchenImageInfo gives the recorded ones): a remake whose files changed under the same names is refused (ImageInputChanged) instead of making another picture. Leave it out to use whatever the files hold now.'
        InitImageSha256    = 'The SHA-256 the init image must have (Get-WuerstchenImageInfo gives the recorded one): a remake from another picture of the same name is refused (ImageInputChanged).'
        InitImage          = 'img2img: the image the prior starts from. It is encoded with the EfficientNet encoder (effnet/model.onnx) at the request''s size (resized to cover -Width × -Height and centre-cropped), put into the prior''s space, noised to the timestep the strength selects with the DDPM-Würstchen forward process, and only the prior''s remaining steps run; the decoder runs as usual. docs/img2img.md has the formulas. Wildcards expand and must match exactly one file. Binds by property name (an InitImage column); the output records the file name (InitImage), its SHA-256 and the strength.'
        LiteralInitImage   = 'The init image used exactly as written (no wildcards). Get-WuerstchenImageInfo gives an image''s recorded init image under this name.'
        Strength           = 'img2img: how much of the prior runs, 0 to 1 (default 0.8, diffusers'' img2img default). floor(steps × strength) of the prior''s steps run: 1 is text-to-image exactly (the image is not used), 0 returns the image''s embedding unchanged. Only with -InitImage: on the command line without one it is an error (StrengthWithoutInitImage); given for a whole pipeline run, it applies to the records that have an init image, and the others are made from text (one warning).'
        PromptIndex        = 'Keeps only the images of this prompt of the batch (0 = the first). With -BatchPrompts the prompt must be the batch''s prompt at this index.'
        ImageIndex         = 'Keeps only this image of each prompt (0 = the first of -ImagesPerPrompt).'
        AllowRecordOutputPath = 'Lets the records'' OutputPath (a CSV column, a pipeline object''s property) write anywhere, as a command-line -OutputPath does. Without it a record''s OutputPath is relative to the current folder and may not leave it: a prompt list is data people share (README, Security notes). A record''s ModelPath is not limited: it is only read.'
        SkipExisting       = 'Skips an image whose file already exists and records the same generation parameters; it is emitted with Skipped = $true and nothing is generated for it. Automatic names are the same on every run for the same rows, so running a stopped CSV run again makes only what is missing.'
        Width              = 'Image width in pixels, 128 to 4096. Würstchen v2: 128-pixel steps (its decoder only works there; other sizes are rejected with the nearest valid sizes). Stable Cascade: also the other sides diffusers runs (an even decoder latent), which give the image size diffusers gives (1000 → 1024, with a warning). Default 1024.'
        Height             = 'Image height in pixels: the same rules as -Width. Default 1024.'
        Seed               = "The seed of the noise generator (torch-compatible: the same seed gives the same noise as diffusers run in float32 with a CPU torch.Generator; taken modulo 2^32). When omitted a random seed is chosen and reported on the output, so any image can be made again."
        Prompt             = 'The text prompts. Several prompts make one batch; rows are prompt-major (all images of the first prompt, then the second …). Binds from the pipeline by value and by property name (a CSV column named Prompt). At most 10,000 characters each (the text encoders read the first 75 tokens, about 300 characters).'
        NegativePrompt     = 'Text to steer away from: the unconditional text of classifier-free guidance (used only when the guidance scale is above 1). Default: the empty prompt.'
        ImagesPerPrompt    = 'Images per prompt (1 to 64). Default 1.'
        PriorSteps         = 'Number of prior (Stage C) steps: timesteps linspace(1, 0, steps + 1). Default: the model family''s (Würstchen v2 60, Stable Cascade 20). Cannot be combined with -PriorTimesteps.'
        PriorTimesteps     = 'An explicit prior timestep list, descending from 1 to 0; the network runs for every value but the last. Accepts numbers or text such as "1, 0.5, 0" (for CSV cells). The documented Würstchen list is 20 values from 1 to 2/3 and 10 more down to 0 (29 calls). Würstchen v2 only: Stable Cascade''s diffusers pipelines ignore custom timesteps, so the module refuses them there (TimestepsNotSupported).'
        PriorGuidanceScale = 'Classifier-free guidance of the prior; applied only when above 1. Default 4.0.'
        DecoderSteps       = 'Number of decoder (Stage B) steps. Default: the model family''s (Würstchen v2 12, Stable Cascade 10). Cannot be combined with -DecoderTimesteps.'
        DecoderTimesteps   = 'An explicit decoder timestep list, descending from 1 to 0. Accepts numbers or text such as "1, 0.5, 0". Würstchen v2 only (refused for Stable Cascade, whose pipelines ignore it).'
        DecoderGuidanceScale = 'Classifier-free guidance of the decoder; applied only when above 1 (the unconditional branch gets a zero image embedding). Default 0 (off).'
    }

    'New-WuerstchenImage' = @{
        Synopsis    = 'Generates images from text prompts with Würstchen v2 or Stable Cascade (the model folder says which).'
        Description = @'
Runs the whole pipeline of the model folder's family. Würstchen v2: the CLIP bigG text encoder and the prior (Stage C) make a 16-channel image embedding at 1/42 of the image size; the CLIP-H text encoder and the decoder (Stage B) expand it, and the VQGAN (Stage A) turns it into pixels. Each image is written as a PNG (or the JPEG or WebP that -OutputPath names) whose metadata carries the prompt, negative prompt, seed, size, steps or timesteps, guidance scales and model name, and returned as a FileInfo with the same values as properties.

Stable Cascade folders run the same three stages with that family's text conditioning (one bigG encoder: the prior reads its state before the final LayerNorm and the pooled embedding; the decoder the pooled embedding only). Defaults follow the family's diffusers pipelines — Würstchen v2: WuerstchenCombinedPipeline (60 prior steps, prior guidance 4, 12 decoder steps, no decoder guidance); Stable Cascade: its prior and decoder pipelines (20 prior steps, guidance 4; 10 decoder steps, no guidance) — except the size, which is 1024×1024, the size the model was trained at. Networks are loaded once per PowerShell process and reused. Ctrl+C stops within one network call and leaves no partial file; -WhatIf loads no model.
'@
        Inputs      = 'System.String[] (Prompt); objects with properties named like the parameters (for example rows from Import-Csv)'
        Outputs     = 'System.IO.FileInfo as Get-Item gives it (PSPath, Mode, Length …), emitted as soon as each file is written, with Prompt, NegativePrompt, Seed, Width, Height, PromptIndex, ImageIndex, PriorSteps, PriorTimesteps, PriorGuidanceScale, LiteralImagePrompt and ImagePromptSha256 (image prompts), LiteralInitImage, InitImageSha256 and Strength (img2img), DecoderSteps, DecoderTimesteps, DecoderGuidanceScale, Source and ModelName properties'
        Notes       = 'Every scalar parameter binds by property name, so a CSV with columns Prompt, NegativePrompt, Width, Height, Seed, PriorSteps … drives the cmdlet row by row; a bad row produces a non-terminating error and the other rows still run.'
        Examples    = @(
            @{ Title = 'One image'; Code = "New-WuerstchenImage -Prompt 'Anthropomorphic cat dressed as a fire fighter' -Seed 42"; Remarks = 'Writes anthropomorphic-cat-dressed-as-a-fire-fighter-42-0.png (1024×1024) into the current folder and returns its FileInfo.' }
            @{ Title = 'A JPEG file'; Code = "New-WuerstchenImage 'a red fox in snow' -Seed 3 -OutputPath ./fox.jpg -Quality 85"; Remarks = 'Writes fox.jpg; its XMP carries the prompt, seed and steps ([Wuerstchen.Core.IO.ImageFile]::ReadParameters reads them back). .webp works the same way; .png is the default format.' }
            @{ Title = 'Several prompts and images'; Code = "New-WuerstchenImage 'a lighthouse at dusk', 'a red fox in snow' -ImagesPerPrompt 2 -Width 1536 -Height 1024 -OutputPath ./out"; Remarks = 'Four images in one batch (prompt-major), written to ./out, which is created if missing. The random seed is reported on each output object.' }
            @{ Title = 'Prompts from a CSV file'; Code = @'
# examples/prompts.csv (shipped with the module's source):
# Prompt,NegativePrompt,Seed,Width,Height
# "a lighthouse at dusk","blurry",7,1024,1024
# "a bowl of ramen",,8,1152,896
Import-Csv ./examples/prompts.csv | New-WuerstchenImage -OutputPath ./renders | Select-Object Name, Prompt, Seed
'@; Remarks = 'Each CSV row binds by property name; columns named like parameters (Prompt, NegativePrompt, Seed, Width, Height, PriorSteps, PriorTimesteps, DecoderSteps …) set them for that row. A bad row writes an error and the run goes on.' }
            @{ Title = 'The recommended prior timesteps'; Code = "`$t = @(0..19 | ForEach-Object { 1 - `$_ / 19 / 3 }) + @(1..10 | ForEach-Object { (2 / 3) * (1 - `$_ / 10) })`nNew-WuerstchenImage 'a castle on a hill' -PriorTimesteps `$t -Seed 1"; Remarks = 'Uses the DEFAULT_STAGE_C_TIMESTEPS schedule (29 prior calls instead of 60).' }
            @{ Title = 'Preview without loading a model'; Code = "New-WuerstchenImage 'a cat' -ImagesPerPrompt 3 -Seed 5 -WhatIf"; Remarks = 'Shows the files that would be written; no network is loaded.' }
            @{ Title = 'img2img (Würstchen v2)'; Code = "New-WuerstchenImage 'a harbour at night' -InitImage ./photo.jpg -Strength 0.6 -Seed 9 -OutputPath ./out"; Remarks = 'The prior starts from the photo''s embedding noised to 60 % of its schedule and runs the last 60 % of its steps (docs/img2img.md). Needs effnet/model.onnx. -Strength 1 gives the text-to-image picture; 0 the photo''s embedding decoded.' }
            @{ Title = 'Image variation (Stable Cascade)'; Code = "New-WuerstchenImage 'a cat in the style of these pictures' -ImagePrompt ./ref1.jpg, ./ref2.png -Seed 8 -ModelPath ./models/stable-cascade"; Remarks = 'The prior sees both images (CLIP image embeddings) beside the text. Needs image_encoder/ in the model folder (the exporter writes it from the prior repository''s image_encoder and feature_extractor).' }
        )
        Links       = @('Get-WuerstchenEmbedding', 'ConvertFrom-WuerstchenEmbedding', 'Measure-WuerstchenPrompt')
    }

    'Get-WuerstchenEmbedding' = @{
        Synopsis    = 'Runs the Würstchen prior (Stage C): text → image embeddings, or encodes an image with the EfficientNet encoder.'
        Defaults    = @{
            Width  = '1024 (with -ImagePath: the size with the image''s aspect ratio near 1024² pixels)'
            Height = '1024 (with -ImagePath: the size with the image''s aspect ratio near 1024² pixels)'
        }
        Description = @'
With -Prompt, runs the prior text encoder and the prior and returns one WuerstchenEmbedding per image (prompt, negative prompt, seed, width, height, shape [16,h,w] and the float data, already in the decoder's space: 42·x − 1). Each embedding remembers where the noise generator stood after the prior, so ConvertFrom-WuerstchenEmbedding produces exactly the pixels New-WuerstchenImage makes with the same parameters.

-ImagePrompt (Stable Cascade image variation) and -InitImage/-Strength (img2img, Würstchen v2) work here as with New-WuerstchenImage; docs/img2img.md defines them.

With -ImagePath, loads the image (its decoded size is bounded), resizes it with antialiasing and centre-crops it to 32h × 32w for the requested size (default: the 128-pixel-step size with the image's aspect ratio and about 1024² pixels, the area the model was trained at, for example 1152×768 for a 6000×4000 photo; with only -Width or -Height, the other side follows the aspect ratio; a warning when more than 6 % of the image is cropped), normalises it with the ImageNet statistics and runs the optional effnet network. The result decodes back to a reconstruction or, with other seeds, to variations.
'@
        Inputs      = 'System.String[] (Prompt); objects with Prompt, PSPath or FullName properties'
        Outputs     = 'Wuerstchen.Core.WuerstchenEmbedding'
        Parameters  = @{
            ImagePath   = 'Image files (PNG, JPEG, BMP, GIF, TGA, TIFF, WebP) to encode with effnet/model.onnx instead of running the prior; wildcards are expanded (-ImagePath ./photos/*.jpg). Named only: a lone positional argument is the prompt. A folder is an error (PathIsFolder).'
            LiteralPath = 'Image files to encode, used exactly as written (no wildcards). Binds from PSPath and FullName, so Get-ChildItem *.jpg | Get-WuerstchenEmbedding works.'
        }
        Examples    = @(
            @{ Title = 'Embeddings, then images'; Code = "Get-WuerstchenEmbedding 'a lighthouse at dusk' -ImagesPerPrompt 2 -Seed 7 | ConvertFrom-WuerstchenEmbedding -OutputPath ./out"; Remarks = 'Same pixels as New-WuerstchenImage ''a lighthouse at dusk'' -ImagesPerPrompt 2 -Seed 7: the noise stream continues from the prior into the decoder.' }
            @{ Title = 'Keep embeddings for later'; Code = "Get-WuerstchenEmbedding 'a red fox in snow' -Seed 3 | Export-WuerstchenEmbedding -Path ./fox.npy"; Remarks = 'Writes a float32 [N,16,h,w] .npy (numpy-readable) and fox.json with the metadata.' }
            @{ Title = 'Variations of a photo'; Code = "`$e = Get-WuerstchenEmbedding -ImagePath ./photo.jpg -Width 1024 -Height 1024`n1..4 | ForEach-Object { `$e | ConvertFrom-WuerstchenEmbedding -Seed `$_ -Prompt 'a photo' -OutputPath ./variations }"; Remarks = 'Needs effnet/model.onnx in the model folder (exported with --effnet-checkpoint).' }
            @{ Title = 'Prompts from a CSV file'; Code = 'Import-Csv ./examples/prompts.csv | Get-WuerstchenEmbedding | ConvertFrom-WuerstchenEmbedding -OutputPath ./renders'; Remarks = 'The prompts.csv of New-WuerstchenImage''s example (shipped in examples/): rows bind by property name (Prompt, NegativePrompt, Seed, Width, Height, PriorSteps …); rows of different sizes are fine. Export-WuerstchenEmbedding needs embeddings of one size per file.' }
        )
        Links       = @('ConvertFrom-WuerstchenEmbedding', 'Export-WuerstchenEmbedding', 'New-WuerstchenImage')
    }

    'ConvertFrom-WuerstchenEmbedding' = @{
        Synopsis    = 'Runs the Würstchen decoder (Stage B) and VQGAN (Stage A): image embeddings → PNG, JPEG or WebP files.'
        Description = @'
Decodes piped WuerstchenEmbedding objects into images. Embeddings from Get-WuerstchenEmbedding continue their noise stream: consecutive embeddings of one batch are decoded together and give exactly the pixels of New-WuerstchenImage with the same parameters; a single embedding of a batch still gets exactly the noise it had in the batch.

With -Seed, or for embeddings without a stream (imported from a file or made from an image), each embedding is decoded on its own with a fresh generator seeded with -Seed (else the embedding's seed), as the diffusers decoder pipeline does with a new generator.
'@
        Inputs      = 'Wuerstchen.Core.WuerstchenEmbedding'
        Outputs     = 'System.IO.FileInfo as Get-Item gives it (PSPath, Mode, Length …), emitted as soon as each file is written, with the generation parameters as properties (the same as New-WuerstchenImage)'
        Parameters  = @{
            InputObject = 'The embeddings to decode (from Get-WuerstchenEmbedding or Import-WuerstchenEmbedding).'
            Seed = 'Starts a fresh generator with this seed for every embedding instead of continuing its stream.'
            Prompt = 'Decoder text to use instead of the embedding''s prompt (useful for embeddings made from images, which have none).'
            NegativePrompt = 'Decoder negative text instead of the embedding''s (used only with -DecoderGuidanceScale above 1).'
        }
        Examples    = @(
            @{ Title = 'Stage by stage'; Code = "Get-WuerstchenEmbedding 'a bowl of ramen' -Seed 11 | ConvertFrom-WuerstchenEmbedding -DecoderSteps 12"; Remarks = 'Equal to New-WuerstchenImage ''a bowl of ramen'' -Seed 11.' }
            @{ Title = 'Decode saved embeddings with new noise'; Code = 'Import-WuerstchenEmbedding ./fox.npy | ConvertFrom-WuerstchenEmbedding -Seed 99 -OutputPath ./fox-99.png'; Remarks = 'Imported embeddings carry no generator state; -Seed (or the seed stored with them) starts the decoder noise.' }
            @{ Title = 'More decoder steps with guidance'; Code = "Get-WuerstchenEmbedding 'a city at night' -Seed 2 | ConvertFrom-WuerstchenEmbedding -DecoderSteps 20 -DecoderGuidanceScale 2 -NegativePrompt 'blurry'"; Remarks = 'Decoder guidance uses a zero image embedding for the unconditional branch.' }
        )
        Links       = @('Get-WuerstchenEmbedding', 'New-WuerstchenImage')
    }

    'Export-WuerstchenEmbedding' = @{
        Synopsis    = 'Writes piped embeddings into one float32 [N,16,h,w] .npy file with a .json sidecar of their metadata.'
        Description = 'Collects every piped embedding (all must have the same shape) and writes them, in order, as one numpy-readable float32 array. The prompt, negative prompt, seed, size, prior settings, model name and source of each row go into a JSON file with the same name and the extension .json, which Import-WuerstchenEmbedding reads back. Both files are written under temporary names and renamed when complete. Generator state is not saved: imported embeddings decode with a fresh generator.'
        Inputs      = 'Wuerstchen.Core.WuerstchenEmbedding'
        Outputs     = 'System.IO.FileInfo (the .npy file)'
        Parameters  = @{ Path = 'The .npy file to write (a name without an extension gets .npy; any other extension is refused). The metadata goes to the same name with the extension .json.'; InputObject = 'The embeddings to write.' }
        Examples    = @(
            @{ Title = 'Save a batch'; Code = "Get-WuerstchenEmbedding 'a cat', 'a dog' -Seed 1 | Export-WuerstchenEmbedding -Path ./pets.npy"; Remarks = 'Writes pets.npy (shape [2,16,24,24]) and pets.json.' }
            @{ Title = 'Read it in Python'; Code = "python -c `"import numpy; print(numpy.load('pets.npy').shape)`""; Remarks = 'The file is a plain numpy array.' }
        )
        Links       = @('Import-WuerstchenEmbedding')
    }

    'Import-WuerstchenEmbedding' = @{
        Synopsis    = 'Reads embeddings written by Export-WuerstchenEmbedding, or any float32 [N,16,h,w] .npy file.'
        Description = 'Returns one WuerstchenEmbedding per row. Metadata comes from the .json sidecar when there is one. The header of the .npy file is validated before any data is allocated, so a malformed or hostile file gives a clear error. Imported embeddings carry no generator state.'
        Inputs      = 'System.String (Path); objects with a PSPath or FullName property'
        Outputs     = 'Wuerstchen.Core.WuerstchenEmbedding'
        Parameters  = @{
            Path        = 'One or more .npy files; wildcards are expanded (./embeddings/*.npy). A folder is an error (PathIsFolder).'
            LiteralPath = 'One or more .npy files, used exactly as written (no wildcards). Binds from PSPath and FullName, so Get-ChildItem *.npy | Import-WuerstchenEmbedding works.'
        }
        Examples    = @(
            @{ Title = 'Round trip'; Code = 'Import-WuerstchenEmbedding ./pets.npy | ConvertFrom-WuerstchenEmbedding -OutputPath ./pets'; Remarks = 'Decodes each saved embedding with a generator seeded by its stored seed.' }
        )
        Links       = @('Export-WuerstchenEmbedding')
    }

    'Measure-WuerstchenPrompt' = @{
        Synopsis    = 'Counts the CLIP tokens of prompts and shows the 77 ids the text encoders get and what is truncated.'
        Description = 'Tokenizes each prompt the way the text encoders see it (CLIP byte-level BPE, lower-cased, HTML-unescaped, whitespace collapsed): 77 ids [49406, up to 75 tokens, 49407, padding 49407 …]. TokenCount is the number of content tokens before truncation; when it exceeds 75, Truncated is $true and TruncatedText shows the words that are dropped. Only the tokenizer files of the model folder are read.'
        Inputs      = 'System.String[]'
        Outputs     = 'Wuerstchen.PowerShell.WuerstchenPromptInfo'
        Examples    = @(
            @{ Title = 'Check a long prompt'; Code = "Measure-WuerstchenPrompt 'a photo of a cat' | Format-List"; Remarks = 'TokenCount 5; TokenIds starts 49406 320 1125 539 320 2368 49407.' }
            @{ Title = 'Find prompts that will be cut'; Code = 'Import-Csv ./prompts.csv | Measure-WuerstchenPrompt | Where-Object Truncated | Select-Object TokenCount, Prompt, TruncatedText'; Remarks = 'Lists the rows whose prompts exceed 75 tokens.' }
        )
        Links       = @('New-WuerstchenImage')
    }

    'Test-WuerstchenModel' = @{
        Synopsis    = 'Checks a model folder against the model contract and returns one result per stage.'
        Description = 'Checks that the files are present, that ONNX Runtime can open each network, that input and output names, ranks, element types and fixed sizes match the contract, and that each text encoder''s width agrees with the network that reads it. A folder may hold only the prior half or only the decoder half; effnet is optional. Each problem is also written as an error that names the file, the expected and the found value.'
        Inputs      = 'None'
        Outputs     = 'Wuerstchen.Core.ModelCheckResult, or System.Boolean with -Quiet'
        Parameters  = @{
            Quiet     = 'Returns only $true (every required stage is valid) or $false, without errors.'
            ModelPath = 'The model folder to check (position 0: Test-WuerstchenModel ./wuerstchen-v2). When omitted, $env:WUERSTCHEN_MODEL_PATH is used, else the default folder.'
        }
        Examples    = @(
            @{ Title = 'Check an exported folder'; Code = 'Test-WuerstchenModel -ModelPath ./wuerstchen-v2 -ExecutionProvider Cpu | Format-Table Stage, Status, HiddenSize, Provider, SizeBytes'; Remarks = 'One row per stage; problems are reported as errors.' }
            @{ Title = 'Gate a CI script'; Code = "if (-not (Test-WuerstchenModel -Quiet)) { throw 'model folder is broken' }"; Remarks = 'Uses $env:WUERSTCHEN_MODEL_PATH or the default folder.' }
        )
        Links       = @('New-WuerstchenImage')
    }

    'Clear-WuerstchenCache' = @{
        Synopsis    = 'Releases the ONNX Runtime sessions this PowerShell process has cached.'
        Description = 'Networks are loaded once per process and reused by later calls (keyed by model file, execution provider and device). Clear-WuerstchenCache drops them all; sessions in use by a running command are released when it finishes.'
        Inputs      = 'None'
        Outputs     = 'None, or System.Int32 with -PassThru'
        Parameters  = @{ PassThru = 'Returns the number of sessions released.' }
        Examples    = @(
            @{ Title = 'Free GPU memory'; Code = 'Clear-WuerstchenCache -PassThru'; Remarks = 'Returns how many sessions were released.' }
        )
        Links       = @('New-WuerstchenImage')
    }

    'Get-WuerstchenImageInfo' = @{
        Synopsis    = 'Reads the generation parameters back from images the module wrote (PNG, JPEG, WebP).'
        Description = 'Reads the parameters New-WuerstchenImage and ConvertFrom-WuerstchenEmbedding record in each image (PNG text chunks, XMP in JPEG and WebP) and returns one object per image whose property names are New-WuerstchenImage''s parameter names: Prompt, NegativePrompt, Seed, Width, Height, PriorSteps or PriorTimesteps, PriorGuidanceScale, DecoderSteps or DecoderTimesteps, DecoderGuidanceScale, and the image''s place in its batch (ImagesPerPrompt, PromptIndex, ImageIndex, BatchPrompts), plus PriorSeed, Source, ModelName, ModelFamily and ImageFile (the file read). Piped to New-WuerstchenImage they make each image again with the same pixels and the same name: an image of a larger batch is made in its batch (its noise depends on it) and only that image is written. Images made from an embedding with a decoder seed of its own (PriorSeed differs from Seed) or from a photo (Source image:…) cannot be remade by New-WuerstchenImage.'
        Inputs      = 'System.String[] (Path); objects with a PSPath or FullName property (Get-ChildItem output) bind to -LiteralPath'
        Outputs     = 'Wuerstchen.PowerShell.ImageInfo objects (PSCustomObject) with the properties above'
        Parameters  = @{
            Path        = 'The images. Wildcards are expanded; relative paths are taken from the current location; ~ and PSDrive paths work.'
            LiteralPath = 'The images, taken as written (no wildcards). Get-ChildItem''s output binds here.'
        }
        Examples    = @(
            @{ Title = 'Make a folder of images again'; Code = 'Get-WuerstchenImageInfo ./renders/*.png | New-WuerstchenImage -OutputPath ./again'; Remarks = 'Each image is made again with the same parameters, pixels and name.' }
            @{ Title = 'See what made an image'; Code = 'Get-WuerstchenImageInfo ./fox.jpg | Format-List Prompt, Seed, PriorGuidanceScale'; Remarks = 'Reads the XMP of a JPEG.' }
        )
        Links       = @('New-WuerstchenImage')
    }
}
