#!/usr/bin/python3
"""Makes the fixtures of the CLIP image preprocessing tests (tests/Wuerstchen.Core.Tests/Preprocessing/).

Run with a Python that has Pillow and numpy (made with Debian's /usr/bin/python3: Pillow 9.4.0, libjpeg-turbo,
numpy 1.24):  cd tests/Wuerstchen.Core.Tests/data/clip-image && /usr/bin/python3 make_fixtures.py

What it writes, all deterministic:
  resize.json + resize.bin   PIL's Image.resize (8-bit, reducing_gap=None) of noise images; the noise comes from
                             splitmix64 (noise() below), which the C# tests compute too, so no source is stored.
  *.png, *.jpg               source images (kit-like: gradient, RGBA with coloured transparent pixels, grayscale,
                             palette with transparency, photo-like JPEGs at several qualities and subsamplings).
  *.pil.png                  for each JPEG: the RGB pixels PIL (libjpeg) decodes, to measure ImageSharp against.
  crop-*.png                 the uint8 image after resize and centre crop, for the small-size cases (diagnostics).
  processor.json             per case: the file, the preprocessor settings, the sha256 of PIL's decoded RGB, of the
                             cropped uint8 image and of pixel_values (float32, little-endian, C order), and its shape.
  normalize.bin              the float32 value of every byte 0..255 per channel after rescale and normalise with
                             the default settings ([3, 256], little-endian).

The processor steps are transformers' CLIPImageProcessor as diffusers runs it (image_processing_clip.py and
image_transforms.py): diffusers' load_image (ImageOps.exif_transpose, convert("RGB")) -> resize (shortest edge: the
other side int(s * long / short); PIL resize on the uint8 image) -> centre crop (top = (H - h) // 2,
left = (W - w) // 2, zero padding where the image is smaller) -> rescale (float64 * factor, then float32) ->
normalise in float32 ((x - mean) / std) -> CHW.
"""
import hashlib
import io
import json
import math
import os

import numpy as np
import PIL
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
FILTERS = {"lanczos": 1, "bilinear": 2, "bicubic": 3, "box": 4, "hamming": 5}


def noise(width, height, seed):
    """HWC uint8 noise: byte i is the top byte of splitmix64 of state seed * GOLDEN + (i + 1) * GOLDEN."""
    with np.errstate(over="ignore"):
        i = np.arange(width * height * 3, dtype=np.uint64)
        z = (np.uint64(seed) * np.uint64(GOLDEN)) + (i + np.uint64(1)) * np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(56)).astype(np.uint8).reshape(height, width, 3)


def sha(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


# ---------------------------------------------------------------- resize
RESIZE_CASES = [
    # name, source width, height, seed, output width, height, filter
    ("down-bicubic-257x193-47x35", 257, 193, 1, 47, 35, "bicubic"),
    ("down-bilinear-150x100-42x28", 150, 100, 2, 42, 28, "bilinear"),
    ("up-bicubic-37x23-53x33", 37, 23, 3, 53, 33, "bicubic"),
    ("vertical-only-bicubic-48x41-48x29", 48, 41, 4, 48, 29, "bicubic"),
    ("horizontal-only-lanczos-50x40-31x40", 50, 40, 5, 31, 40, "lanczos"),
    ("extreme-wide-hamming-400x7-171x3", 400, 7, 6, 171, 3, "hamming"),
    ("extreme-tall-box-5x300-2x120", 5, 300, 7, 2, 120, "box"),
    ("down-box-97x89-23x20", 97, 89, 8, 23, 20, "box"),
    ("down-hamming-97x89-33x30", 97, 89, 9, 33, 30, "hamming"),
    ("up-lanczos-19x13-37x26", 19, 13, 10, 37, 26, "lanczos"),
    ("mixed-bicubic-40x90-57x31", 40, 90, 11, 57, 31, "bicubic"),
    ("same-size-bicubic-13x11", 13, 11, 12, 13, 11, "bicubic"),
]


def make_resize():
    cases, blob = [], bytearray()
    for name, w, h, seed, ow, oh, f in RESIZE_CASES:
        src = noise(w, h, seed)
        out = np.asarray(Image.fromarray(src, "RGB").resize((ow, oh), FILTERS[f], reducing_gap=None))
        assert out.shape == (oh, ow, 3)
        cases.append({"name": name, "width": w, "height": h, "seed": seed, "sourceSha256": sha(src), "outWidth": ow,
                      "outHeight": oh, "filter": FILTERS[f], "offset": len(blob), "sha256": sha(out)})
        blob += out.tobytes()
    with open(os.path.join(HERE, "resize.bin"), "wb") as fh:
        fh.write(blob)
    return cases


# ---------------------------------------------------------------- source images (reference.py's kinds)
def grid(w, h):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    return x, y


def gradient(w, h, seed):
    rs = np.random.RandomState(seed)
    x, y = grid(w, h)
    b = 128 + 120 * np.sin(2 * np.pi * (x + 2 * y) / max(w, h) * (1 + rs.rand()))
    rgb = np.stack([255 * x / max(w - 1, 1), 255 * y / max(h - 1, 1), b], -1)
    rgb[((x - 0.3 * w) ** 2 + (y - 0.6 * h) ** 2) < (0.18 * min(w, h)) ** 2] *= 0.25
    return Image.fromarray(np.clip(np.round(rgb), 0, 255).astype(np.uint8), "RGB")


def alpha(w, h, seed):
    """RGBA whose alpha goes down to 0 on the left while the colour stays (convert("RGB") must keep that colour)."""
    rs = np.random.RandomState(seed)
    x, y = grid(w, h)
    rgb = np.stack([127 + 127 * np.sin(x / 7.0 + rs.rand() * 6), 127 + 127 * np.cos(y / 11.0),
                    255 * ((x // 16 + y // 16) % 2)], -1)
    a = np.where(x < w / 5, 0, 255 * (0.15 + 0.85 * x / max(w - 1, 1)))
    return Image.fromarray(np.clip(np.round(np.concatenate([rgb, a[..., None]], -1)), 0, 255).astype(np.uint8), "RGBA")


def gray(w, h, seed):
    rs = np.random.RandomState(seed)
    x, y = grid(w, h)
    v = 255 * np.hypot(x - w / 2, y - h / 3) / np.hypot(w, h) * 1.6 + rs.randn(h, w) * 6
    return Image.fromarray(np.clip(np.round(v), 0, 255).astype(np.uint8), "L")


def photo(w, h, seed):
    rs = np.random.RandomState(seed)
    coarse = Image.fromarray((rs.rand(max(h // 32, 2), max(w // 32, 2), 3) * 255).astype(np.uint8), "RGB")
    smooth = np.asarray(coarse.resize((w, h), Image.BICUBIC)).astype(np.float64)
    return Image.fromarray(np.clip(np.round(smooth + rs.randn(h, w, 3) * 10), 0, 255).astype(np.uint8), "RGB")


def make_sources():
    gradient(300, 200, 1).save(os.path.join(HERE, "gradient-300x200.png"))
    alpha(150, 120, 3).save(os.path.join(HERE, "alpha-150x120.png"))
    gray(90, 70, 4).save(os.path.join(HERE, "gray-90x70.png"))
    # palette with a transparent entry (tRNS): convert("RGB") keeps the entry's colour
    pal = gradient(120, 80, 5).quantize(colors=24, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    pal.save(os.path.join(HERE, "palette-120x80.png"), transparency=3)
    # gray + alpha (LA): alpha dropped, gray replicated
    la = Image.merge("LA", (gray(60, 50, 6), Image.fromarray(noise(60, 50, 13)[..., 0], "L")))
    la.save(os.path.join(HERE, "gray-alpha-60x50.png"))
    # EXIF orientation 6 (turn 90° clockwise to show): diffusers' load_image applies exif_transpose
    exif = Image.Exif()
    exif[0x0112] = 6
    gradient(90, 60, 7).save(os.path.join(HERE, "oriented-90x60.png"), exif=exif.tobytes())
    jpegs = []
    for q, sub in [(75, "4:2:0"), (90, "4:2:0"), (95, "4:2:0"), (75, "4:4:4"), (90, "4:4:4"), (95, "4:4:4")]:
        name = f"photo-q{q}-{sub.replace(':', '')}-48x64.jpg"
        photo(48, 64, 20 + q).save(os.path.join(HERE, name), "JPEG", quality=q, subsampling=sub)
        jpegs.append(name)
    return jpegs


# ---------------------------------------------------------------- the processor (transformers' steps)
DEFAULTS = {"do_resize": True, "size": {"shortest_edge": 224}, "resample": 3, "do_center_crop": True,
            "crop_size": {"height": 224, "width": 224}, "do_rescale": True, "rescale_factor": 1 / 255,
            "do_normalize": True, "image_mean": CLIP_MEAN, "image_std": CLIP_STD, "do_convert_rgb": True}


def load_image(path):
    """diffusers.utils.load_image for a local file."""
    image = Image.open(path)
    image = ImageOps.exif_transpose(image)
    return image.convert("RGB")


def output_size(height, width, size):
    if "shortest_edge" in size:
        s = size["shortest_edge"]
        short, long = (width, height) if width <= height else (height, width)
        new_short, new_long = s, int(s * long / short)
        return (new_long, new_short) if width <= height else (new_short, new_long)
    return size["height"], size["width"]


def center_crop(image, height, width):
    H, W = image.shape[:2]
    top, left = (H - height) // 2, (W - width) // 2
    if top >= 0 and left >= 0 and top + height <= H and left + width <= W:
        return image[top:top + height, left:left + width]
    nh, nw = max(height, H), max(width, W)
    canvas = np.zeros((nh, nw, 3), dtype=image.dtype)
    tp, lp = math.ceil((nh - H) / 2), math.ceil((nw - W) / 2)
    canvas[tp:tp + H, lp:lp + W] = image
    top, left = top + tp, left + lp
    return canvas[max(0, top):min(nh, top + height), max(0, left):min(nw, left + width)]


def scalar3(v):
    return list(v) if isinstance(v, (list, tuple)) else [v] * 3


def process(rgb, s):
    """rgb: HWC uint8 -> (cropped uint8 HWC, pixel_values CHW)."""
    image = rgb
    if s["do_resize"]:
        h, w = output_size(image.shape[0], image.shape[1], s["size"])
        image = np.asarray(Image.fromarray(image, "RGB").resize((w, h), resample=s["resample"], reducing_gap=None))
    if s["do_center_crop"]:
        image = center_crop(image, s["crop_size"]["height"], s["crop_size"]["width"])
    cropped = np.ascontiguousarray(image)
    if s["do_rescale"]:
        image = (image.astype(np.float64) * s["rescale_factor"]).astype(np.float32)
    if s["do_normalize"]:
        if not np.issubdtype(image.dtype, np.floating):
            image = image.astype(np.float32)
        image = (image - np.array(scalar3(s["image_mean"]), dtype=image.dtype)) / np.array(scalar3(s["image_std"]), dtype=image.dtype)
    return cropped, np.ascontiguousarray(image.transpose(2, 0, 1)).astype("<f4")


S56 = {"size": {"shortest_edge": 56}, "crop_size": {"height": 56, "width": 56}}
PROCESSOR_CASES = [
    # name, file, settings over the defaults, whether to store the crop as PNG
    ("gradient-s56", "gradient-300x200.png", S56, True),
    ("gradient-default", "gradient-300x200.png", {}, False),
    ("alpha-s56", "alpha-150x120.png", S56, True),
    ("alpha-default", "alpha-150x120.png", {}, False),
    ("gray-s56", "gray-90x70.png", S56, False),
    ("palette-s56", "palette-120x80.png", S56, True),
    ("gray-alpha-s56", "gray-alpha-60x50.png", S56, False),
    ("oriented-s56", "oriented-90x60.png", S56, False),
    ("gradient-bilinear-s56", "gradient-300x200.png", dict(S56, resample=2), False),
    ("gradient-lanczos-hw-no-crop", "gradient-300x200.png", {"size": {"height": 40, "width": 70}, "resample": 1, "do_center_crop": False}, False),
    ("gray-pad-crop", "gray-90x70.png", {"size": {"shortest_edge": 33}, "crop_size": {"height": 48, "width": 39}}, False),
    ("gray-alpha-no-resize-pad", "gray-alpha-60x50.png", {"do_resize": False, "crop_size": {"height": 57, "width": 63}}, False),
    ("gradient-no-rescale", "gradient-300x200.png", dict(S56, do_rescale=False, image_mean=0.5, image_std=[1, 2, 3]), False),
    ("gradient-no-normalize", "gradient-300x200.png", dict(S56, do_normalize=False, rescale_factor=0.5), False),
    ("gradient-raw", "gradient-300x200.png", dict(S56, do_rescale=False, do_normalize=False), False),
]


def make_processor(jpegs):
    cases = []
    all_cases = list(PROCESSOR_CASES) + [(f"{j[:-4]}-s56", j, S56, False) for j in jpegs] + \
        [(f"{jpegs[1][:-4]}-default", jpegs[1], {}, False)]
    for name, file, over, keep in all_cases:
        s = dict(DEFAULTS, **over)
        rgb = np.asarray(load_image(os.path.join(HERE, file)))
        cropped, pv = process(rgb, s)
        case = {"name": name, "file": file, "settings": over, "decodedSha256": sha(rgb),
                "decodedWidth": rgb.shape[1], "decodedHeight": rgb.shape[0],
                "croppedSha256": sha(cropped), "shape": list(pv.shape), "pixelValuesSha256": sha(pv)}
        if keep:
            case["cropFile"] = f"crop-{name}.png"
            Image.fromarray(cropped, "RGB").save(os.path.join(HERE, case["cropFile"]))
        cases.append(case)
    for j in jpegs:  # what PIL (libjpeg) decodes, to measure ImageSharp's decoder against
        load_image(os.path.join(HERE, j)).save(os.path.join(HERE, j[:-4] + ".pil.png"))
    return cases


def make_normalize():
    v = np.arange(256, dtype=np.uint8)[:, None].repeat(3, 1)[None]  # HWC 1x256x3
    _, table = process(v, dict(DEFAULTS, do_resize=False, do_center_crop=False))
    with open(os.path.join(HERE, "normalize.bin"), "wb") as fh:
        fh.write(table.reshape(3, 256).tobytes())


def main():
    resize = make_resize()
    jpegs = make_sources()
    processor = make_processor(jpegs)
    make_normalize()
    meta = {"pillow": PIL.__version__, "numpy": np.__version__}
    with open(os.path.join(HERE, "resize.json"), "w") as fh:
        json.dump(dict(meta, cases=resize), fh, indent=1)
        fh.write("\n")
    with open(os.path.join(HERE, "processor.json"), "w") as fh:
        json.dump(dict(meta, cases=processor), fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
