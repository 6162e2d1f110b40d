#!/usr/bin/python3
"""Makes the fixtures of the JPEG decoder tests (tests/Wuerstchen.Core.Tests/Jpeg/).

Run with Debian bookworm's /usr/bin/python3 (Pillow 9.4.0 on the system libjpeg62-turbo 2.1.5, numpy 1.24) and
libjpeg-turbo-progs 2.1.5 (cjpeg, jpegtran, djpeg: `apt-get install libjpeg-turbo-progs`):
    cd tests/Wuerstchen.Core.Tests/data/jpeg && /usr/bin/python3 make_fixtures.py

What it writes:
  *.jpg           small JPEGs of photo-like content: Pillow's encoder at qualities 50-100, 4:4:4 / 4:2:2 / 4:2:0,
                  baseline, optimized and progressive; gray; odd sizes down to 1x1; and through cjpeg/jpegtran what
                  Pillow cannot write: restart intervals, 4:4:0 (1x2), 4:1:1 (4x1) and other sampling factors, RGB
                  colour space, one-component sequential scans, progressive scripts that leave coefficients
                  incomplete (libjpeg's block smoothing), a file without Huffman tables (libjpeg's standard ones), a
                  file with junk bytes before a marker and one whose scan data was cut short; and kinds the decoder
                  refuses (arithmetic coding, CMYK, 12-bit).
  manifest.json   per file: its size and the sha256 of the RGB bytes Pillow decodes (Image.open(f).convert("RGB"),
                  row-major, 3 bytes a pixel) - the decoder must give exactly these bytes - or the reason it refuses.

Every decoded reference is checked against djpeg (the same libjpeg-turbo, command-line defaults) before it is kept.
The content comes from numpy's PCG64 with fixed seeds, so a rerun with these versions writes the same files.
"""
import hashlib
import json
import os
import subprocess
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def photo(width, height, seed):
    """Photo-like RGB content: smooth colour gradients, a few hard-edged discs and bars (chroma edges), mild noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    img = np.zeros((height, width, 3))
    for ch in range(3):
        fx, fy, ph = rng.uniform(0.5, 4.0), rng.uniform(0.5, 4.0), rng.uniform(0, 6.3)
        img[..., ch] = 128 + 90 * np.sin(fx * x / max(width, 1) * 3.1 + ph) * np.cos(fy * y / max(height, 1) * 3.1)
    for _ in range(4):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(1, max(2.0, min(width, height) / 3))
        mask = (x - cx) ** 2 + (y - cy) ** 2 < r * r
        img[mask] = rng.uniform(0, 255, 3)
    bar = rng.integers(0, max(width, 1))
    img[:, bar:bar + max(1, width // 10)] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 6, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def pil_rgb(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def djpeg_rgb(path):
    run = subprocess.run(["djpeg", "-pnm", path], capture_output=True)
    assert run.returncode in (0, 2), run.stderr  # 2: decoded with warnings (damaged data)
    out = run.stdout
    magic, rest = out[:2], out[2:].split(maxsplit=3)
    width, height, data = int(rest[0]), int(rest[1]), rest[3]
    arr = np.frombuffer(data, np.uint8)
    if magic == b"P5":
        return np.repeat(arr.reshape(height, width, 1), 3, axis=2)
    return arr.reshape(height, width, 3)


def save_pil(path, rgb, mode="RGB", **options):
    Image.fromarray(rgb).convert(mode).save(path, "JPEG", **options)


def cjpeg(path, rgb, *args, gray=False):
    """Encodes through a PPM/PGM with cjpeg (libjpeg-turbo's own encoder: restart, sampling, scans, arithmetic)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "in.pgm" if gray else "in.ppm")
        Image.fromarray(rgb).convert("L" if gray else "RGB").save(src)
        subprocess.run(["cjpeg", *args, "-outfile", path, src], check=True)


def jpegtran(path, source, *args):
    subprocess.run(["jpegtran", *args, "-outfile", path, source], check=True)


def scan_script(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def strip_segments(data, marker):
    """The JPEG bytes without any segment of the given marker (e.g. 0xC4 DHT), before the first scan."""
    out, i = bytearray(data[:2]), 2
    while i < len(data):
        assert data[i] == 0xFF
        m = data[i + 1]
        if m == 0xDA:
            out += data[i:]
            break
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if m != marker:
            out += data[i:i + 2 + length]
        i += 2 + length
    return bytes(out)


def first_scan_data(data):
    """Offset of the first byte of entropy-coded data (after the first SOS header)."""
    i = data.index(b"\xff\xda")
    return i + 2 + int.from_bytes(data[i + 2:i + 4], "big")


def make(work):
    """Writes every fixture; returns [(file, expected)] where expected is None (decodable) or the refusal's reason."""
    files = []

    def pil(name, w, h, seed, mode="RGB", **options):
        save_pil(os.path.join(HERE, name), photo(w, h, seed), mode, **options)
        files.append((name, None))

    def cj(name, w, h, seed, *args, gray=False):
        cjpeg(os.path.join(HERE, name), photo(w, h, seed), *args, gray=gray)
        files.append((name, None))

    pil("pil-q75-420-64x48.jpg", 64, 48, 1, quality=75, subsampling=2)
    pil("pil-q90-422-33x17.jpg", 33, 17, 2, quality=90, subsampling=1)
    pil("pil-q95-444-7x13.jpg", 7, 13, 3, quality=95, subsampling=0)
    pil("pil-q50-420-1x1.jpg", 1, 1, 4, quality=50, subsampling=2)
    pil("pil-q100-444-16x16.jpg", 16, 16, 5, quality=100, subsampling=0)
    pil("pil-q90-420-progressive-257x193.jpg", 257, 193, 6, quality=90, subsampling=2, progressive=True)
    pil("pil-q75-422-progressive-optimize-65x31.jpg", 65, 31, 7, quality=75, subsampling=1, progressive=True, optimize=True)
    pil("pil-q85-420-optimize-40x40.jpg", 40, 40, 8, quality=85, subsampling=2, optimize=True)
    pil("pil-gray-q90-37x29.jpg", 37, 29, 9, mode="L", quality=90)
    pil("pil-gray-q75-progressive-31x45.jpg", 31, 45, 10, mode="L", quality=75, progressive=True)
    pil("pil-q95-444-progressive-23x9.jpg", 23, 9, 11, quality=95, subsampling=0, progressive=True)
    pil("pil-q100-420-4x6.jpg", 4, 6, 12, quality=100, subsampling=2)  # chroma 2 wide: plain (not fancy) upsampling
    pil("pil-q90-420-5x5.jpg", 5, 5, 13, quality=90, subsampling=2)  # chroma 3 wide: fancy
    pil("pil-q90-422-3x7.jpg", 3, 7, 14, quality=90, subsampling=1)
    pil("pil-q50-420-progressive-2x1.jpg", 2, 1, 15, quality=50, subsampling=2, progressive=True)

    cj("cjpeg-restart-rows-420-50x40.jpg", 50, 40, 20, "-quality", "80", "-restart", "1")
    cj("cjpeg-restart-blocks-420-progressive-45x35.jpg", 45, 35, 21, "-quality", "85", "-restart", "3B", "-progressive")
    cj("cjpeg-440-30x22.jpg", 30, 22, 22, "-quality", "90", "-sample", "1x2")
    cj("cjpeg-440-progressive-17x33.jpg", 17, 33, 23, "-quality", "75", "-sample", "1x2", "-progressive")
    cj("cjpeg-411-41x19.jpg", 41, 19, 24, "-quality", "90", "-sample", "4x1")
    cj("cjpeg-42-37x23.jpg", 37, 23, 25, "-quality", "85", "-sample", "4x2")
    cj("cjpeg-14-19x37.jpg", 19, 37, 26, "-quality", "85", "-sample", "1x4")
    cj("cjpeg-mixed-22-12-11-35x27.jpg", 35, 27, 27, "-quality", "90", "-sample", "2x2,1x2,1x1")
    cj("cjpeg-31-29x11.jpg", 29, 11, 28, "-quality", "90", "-sample", "3x1")
    cj("cjpeg-rgb-20x20.jpg", 20, 20, 29, "-quality", "90", "-rgb")
    cj("cjpeg-gray-restart-progressive-33x33.jpg", 33, 33, 30, "-quality", "70", "-restart", "2B", "-progressive", gray=True)

    # multi-scan scripts: one sequential scan per component, and progressive scripts that never complete some
    # coefficients (libjpeg then smooths blocks): DC plus a partial AC band, and DC alone
    scripts = {
        "cjpeg-sequential-per-component-43x29.jpg": "0;\n1;\n2;\n",
        "cjpeg-progressive-partial-ac-50x42.jpg": "0,1,2: 0-0, 0, 1;\n0: 1-5, 0, 2;\n1: 1-63, 0, 0;\n2: 1-2, 0, 1;\n",
        "cjpeg-progressive-dc-only-50x42.jpg": "0,1,2: 0-0, 0, 0;\n",
        # two blocks wide (one for chroma): libjpeg's sliding DC window is not a plain clamp there
        "cjpeg-progressive-partial-ac-narrow-12x70.jpg": "0,1,2: 0-0, 0, 0;\n0: 1-9, 0, 1;\n1: 1-1, 0, 0;\n",
        "cjpeg-progressive-dc-only-narrow-16x9.jpg": "0,1,2: 0-0, 0, 1;\n",
    }
    sizes = {"sequential": (43, 29), "narrow-12x70": (12, 70), "narrow-16x9": (16, 9)}
    for i, (name, script) in enumerate(scripts.items()):
        w, h = next((v for k, v in sizes.items() if k in name), (50, 42))
        cj(name, w, h, 31 + i, "-quality", "85", "-scans", scan_script(os.path.join(work, f"s{i}.txt"), script))

    base = os.path.join(work, "base.jpg")
    save_pil(base, photo(70, 52, 40), quality=90, subsampling=2)
    jpegtran(os.path.join(HERE, "jpegtran-restart-progressive-70x52.jpg"), base, "-restart", "1", "-progressive")
    files.append(("jpegtran-restart-progressive-70x52.jpg", None))

    data = open(base, "rb").read()
    with open(os.path.join(HERE, "no-huffman-tables-70x52.jpg"), "wb") as f:
        f.write(strip_segments(data, 0xC4))  # Pillow without optimize writes the standard tables
    files.append(("no-huffman-tables-70x52.jpg", None))
    at = data.index(b"\xff\xdb")  # junk before the quantization tables: libjpeg warns and skips it
    with open(os.path.join(HERE, "junk-before-marker-70x52.jpg"), "wb") as f:
        f.write(data[:at] + b"\x00\x17junk" + data[at:])
    files.append(("junk-before-marker-70x52.jpg", None))
    start = first_scan_data(data)
    with open(os.path.join(HERE, "cut-scan-data-70x52.jpg"), "wb") as f:
        f.write(data[:start + (len(data) - start) // 2] + b"\xff\xd9")  # libjpeg pads with zeros, gray after
    files.append(("cut-scan-data-70x52.jpg", None))

    cjpeg(os.path.join(HERE, "refused-arithmetic-16x16.jpg"), photo(16, 16, 50), "-arithmetic")
    files.append(("refused-arithmetic-16x16.jpg", "arithmetic"))
    Image.fromarray(photo(16, 16, 51)).convert("CMYK").save(os.path.join(HERE, "refused-cmyk-16x16.jpg"), "JPEG", quality=90)
    files.append(("refused-cmyk-16x16.jpg", "components"))
    twelve = bytearray(open(os.path.join(HERE, "pil-q100-444-16x16.jpg"), "rb").read())
    sof = twelve.index(b"\xff\xc0")
    twelve[sof + 4] = 12  # the precision byte: a 12-bit frame header on 8-bit data (refused before any decoding)
    with open(os.path.join(HERE, "refused-12bit-16x16.jpg"), "wb") as f:
        f.write(bytes(twelve))
    files.append(("refused-12bit-16x16.jpg", "12-bit"))
    return files


def main():
    for name in os.listdir(HERE):
        if name.endswith(".jpg"):
            os.remove(os.path.join(HERE, name))
    with tempfile.TemporaryDirectory() as work:
        files = make(work)
    cases = []
    for name, refused in files:
        path = os.path.join(HERE, name)
        if refused:
            cases.append({"file": name, "refused": refused})
            continue
        rgb = pil_rgb(path)
        assert np.array_equal(rgb, djpeg_rgb(path)), f"{name}: djpeg and Pillow disagree"
        cases.append({"file": name, "width": rgb.shape[1], "height": rgb.shape[0],
                      "sha256": hashlib.sha256(np.ascontiguousarray(rgb).tobytes()).hexdigest()})
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump({"generator": "make_fixtures.py", "cases": cases}, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(HERE, n)) for n in os.listdir(HERE))
    print(f"{len(cases)} files, {total} bytes in {HERE}")


if __name__ == "__main__":
    main()
