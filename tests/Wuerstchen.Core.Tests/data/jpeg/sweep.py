#!/usr/bin/python3
"""A larger, local check of the JPEG decoder (not run in CI): writes random JPEGs and the RGB Pillow decodes from each.

    /usr/bin/python3 sweep.py OUT_DIR [COUNT] [SEED] [MAX_SIDE]
    dotnet run --project tests/Benchmark -c Release -- jpeg-sweep OUT_DIR   (prints SUMMARY jpeg-sweep …, exit 1 on a difference)

Each case is OUT_DIR/NNNN.jpg with NNNN.rgb (Pillow's convert("RGB") bytes, row-major) and NNNN.txt (how it was made).
Sizes 1..MAX_SIDE (default 320) per side; content photo-like, noise, flat or gradient; encoded by Pillow (quality 1-100, 4:4:4/4:2:2/4:2:0,
progressive, optimize, gray) or by cjpeg (restart intervals in rows or blocks, sampling factors 1x1..4x4 for the luma,
progressive, gray, RGB, random scan scripts: sequential multi-scan, and progressions left incomplete), sometimes passed through jpegtran (restart, progressive, optimize). Same tools and versions as
make_fixtures.py.
"""
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

from make_fixtures import photo, pil_rgb

SAMPLINGS = ["1x1", "2x1", "1x2", "2x2", "4x1", "1x4", "4x2", "2x4", "3x1", "1x3", "3x2", "2x2,1x2,1x1", "2x2,2x1,1x1",
             "1x2,1x1,1x1", "2x1,1x1,1x1", "2x2,1x1,2x2"]


def content(rng, w, h):
    kind = rng.choice(["photo", "photo", "noise", "flat", "gradient"])
    if kind == "photo":
        return photo(w, h, rng.randrange(1 << 30)), kind
    if kind == "noise":
        return np.random.default_rng(rng.randrange(1 << 30)).integers(0, 256, (h, w, 3), dtype=np.uint8), kind
    if kind == "flat":
        return np.full((h, w, 3), [rng.randrange(256) for _ in range(3)], np.uint8), kind
    y, x = np.mgrid[0:h, 0:w]
    g = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) * 255 // max(w + h - 2, 1)], axis=2)
    return g.astype(np.uint8), kind


def scan_script(rng, gray):
    """A random multi-scan script: sequential scans over component groups, or a progression that may stop early
    (coefficients left incomplete, so libjpeg smooths blocks) or skip refinements."""
    comps = [0] if gray else [0, 1, 2]
    if rng.random() < 0.25:
        groups = [[0], [1], [2]] if not gray and rng.random() < 0.5 else [[0, 1], [2]] if not gray else [[0]]
        return "".join(",".join(map(str, g)) + ";\n" for g in groups)
    lines = []
    dc_al = rng.choice([0, 0, 1, 2])
    if rng.random() < 0.7:
        lines.append(f"{','.join(map(str, comps))}: 0-0, 0, {dc_al};")
    else:
        lines += [f"{c}: 0-0, 0, {dc_al};" for c in comps]
    for c in comps:
        pos = 1
        while pos <= 63 and rng.random() < 0.85:
            end = min(63, pos + rng.randint(0, 62))
            al = rng.choice([0, 0, 1, 2])
            lines.append(f"{c}: {pos}-{end}, 0, {al};")
            ah = al
            while ah > 0 and rng.random() < 0.8:
                lines.append(f"{c}: {pos}-{end}, {ah}, {ah - 1};")
                ah -= 1
            pos = end + 1
    ah = dc_al
    while ah > 0 and rng.random() < 0.8:
        lines.append(f"{','.join(map(str, comps))}: 0-0, {ah}, {ah - 1};")
        ah -= 1
    return "\n".join(lines) + "\n"


def one(rng, path, work, max_side):
    w, h = rng.choice([rng.randint(1, 24), rng.randint(1, max_side)]), rng.choice([rng.randint(1, 24), rng.randint(1, max_side)])
    rgb, kind = content(rng, w, h)
    gray = rng.random() < 0.15
    how = [f"{w}x{h} {kind}" + (" gray" if gray else "")]
    if rng.random() < 0.5:
        opts = {"quality": rng.randint(1, 100), "progressive": rng.random() < 0.4, "optimize": rng.random() < 0.4}
        if not gray:
            opts["subsampling"] = rng.choice([0, 1, 2])
        Image.fromarray(rgb).convert("L" if gray else "RGB").save(path, "JPEG", **opts)
        how.append(f"pillow {opts}")
    else:
        src = os.path.join(work, "in.pgm" if gray else "in.ppm")
        Image.fromarray(rgb).convert("L" if gray else "RGB").save(src)
        args = ["-quality", str(rng.randint(1, 100))]
        scripted = rng.random() < 0.3
        if scripted:
            script = os.path.join(work, "scans.txt")
            with open(script, "w") as f:
                f.write(scan_script(rng, gray))
            args += ["-scans", script]
            if not gray:
                args += ["-sample", rng.choice(["1x1", "2x1", "1x2", "2x2"])]
        elif not gray and rng.random() < 0.7:
            args += ["-sample", rng.choice(SAMPLINGS)]
        if rng.random() < 0.4:
            args += ["-restart", rng.choice([str(rng.randint(1, 4)), f"{rng.randint(1, 20)}B"])]
        if not scripted and rng.random() < 0.4:
            args += ["-progressive"]
        if rng.random() < 0.2:
            args += ["-optimize"]
        if not gray and rng.random() < 0.05:
            args += ["-rgb"]
        subprocess.run(["cjpeg", *args, "-outfile", path, src], check=True)
        how.append("cjpeg " + " ".join(args) + (" [" + open(script).read().replace("\n", " ") + "]" if scripted else ""))
    if rng.random() < 0.2:
        args = rng.choice([["-restart", str(rng.randint(1, 3))], ["-progressive"], ["-optimize"], ["-restart", "5B", "-progressive"]])
        tmp = path + ".t"
        subprocess.run(["jpegtran", *args, "-outfile", tmp, path], check=True)
        os.replace(tmp, path)
        how.append("jpegtran " + " ".join(args))
    return how


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    max_side = int(sys.argv[4]) if len(sys.argv) > 4 else 320
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        for i in range(count):
            path = os.path.join(out, f"{i:04d}.jpg")
            while True:  # an encoder may refuse a combination (e.g. more than 10 blocks an MCU): draw again
                try:
                    how = one(rng, path, work, max_side)
                    break
                except (subprocess.CalledProcessError, OSError):
                    pass
            with open(path[:-4] + ".rgb", "wb") as f:
                f.write(np.ascontiguousarray(pil_rgb(path)).tobytes())
            with open(path[:-4] + ".txt", "w") as f:
                f.write("\n".join(how) + "\n")
    print(f"{count} JPEGs in {out}")


if __name__ == "__main__":
    main()
