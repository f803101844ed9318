"""Data for the course: MNIST shipped inside the package, the full MNIST by download, and
scikit-learn's 8x8 digits.

Taught in notebook 06_full_vae. Every loader returns a ``Dataset`` of tensors (images float32
in [0, 1] of shape (N, H, W), labels int64 of shape (N,)); batching stays in the training loop.
``load_dataset(name)`` chooses by name, and never silently changes data set:

    "mnist10k"        the course's default: the 10,000 official MNIST test images (LeCun and
                      Cortes, CC BY-SA 3.0), shipped with the package and checked against their
                      published md5s on every load; split 8,004 train / 1,996 test by class.
                      No network, the same images on every machine.
    "mnist-full"      the full MNIST, 60,000 train and 10,000 test images, downloaded on
                      request (below). Its test split holds the 10,000 images of "mnist10k".
    "sklearn-digits"  scikit-learn's 1,797 handwritten digits of 8x8 pixels, for experiments
                      where a tiny data set is the point.

The full MNIST comes as the four official IDX files, fetched with pooch from the first mirror
that answers. pooch streams each file into a temporary file in the cache folder, checks its
hash and only then renames it into place, so the cache never holds a partial or unverified
file under its real name; a cached file whose hash no longer matches is fetched again. A
mirror still sending when the time limit per file runs out (one that trickles a byte every
few seconds never trips the read timeout) is abandoned, and its temporary file deleted; a
temporary file left by a killed download is deleted by a later call.

Environment variables for the download (an explicit argument always wins):

    VAECOURSE_DATA           folder that holds the MNIST .gz files
                             (default: the user cache, e.g. ~/.cache/vaecourse/mnist)
    VAECOURSE_MNIST_MIRRORS  comma-separated mirror base URLs, tried in order
    VAECOURSE_OFFLINE        1 / true / yes: never touch the network; use cached files only
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import logging
import math
import os
import re
import struct
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import torch

from ._validation import float_tensor, in_unit_interval, positive_float

__all__ = [
    "DEFAULT_MIRRORS",
    "MNIST_MD5",
    "Dataset",
    "DownloadError",
    "binarize",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "load_mnist10k",
]

DEFAULT_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

MNIST_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# md5 of the published .gz files (LeCun & Cortes); every mirror serves these exact bytes.
MNIST_MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

ENV_CACHE = "VAECOURSE_DATA"
ENV_MIRRORS = "VAECOURSE_MNIST_MIRRORS"
ENV_OFFLINE = "VAECOURSE_OFFLINE"

# Seconds: connect short, so that an offline machine gives up quickly; each read long enough for
# a slow mirror; all of one file 10 minutes (the 9.9 MB training images at 17 kB/s).
DEFAULT_TIMEOUT: tuple[float, float, float] = (3.0, 30.0, 600.0)

_SPLITS = ("train", "test")
_NAMES = ("mnist10k", "mnist-full", "sklearn-digits")
# Names of earlier versions, answered with the name to use now.
_RENAMED = {"auto": "mnist10k", "mnist": "mnist-full", "digits": "sklearn-digits"}


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Images and labels as tensors.

    images: float32 (N, H, W), grey levels in [0, 1]; labels: int64 (N,), digits 0-9;
    name: "mnist10k", "mnist-full" or "sklearn-digits" (as ``load_dataset`` names them);
    split: "train" or "test". Taught in notebook 06_full_vae.
    """

    images: torch.Tensor
    labels: torch.Tensor
    name: str
    split: str

    def __post_init__(self) -> None:
        float_tensor("images", self.images)
        if self.images.dtype != torch.float32 or self.images.dim() != 3:
            raise ValueError(
                f"images must be float32 of shape (N, H, W), got {self.images.dtype} "
                f"of shape {tuple(self.images.shape)}"
            )
        in_unit_interval("images", self.images)
        if self.labels.dtype != torch.int64 or self.labels.dim() != 1:
            raise ValueError(
                f"labels must be int64 of shape (N,), got {self.labels.dtype} of shape {tuple(self.labels.shape)}"
            )
        if len(self.images) == 0 or len(self.images) != len(self.labels):
            raise ValueError(
                f"images and labels must hold the same number N >= 1 of examples, got "
                f"{len(self.images)} images and {len(self.labels)} labels"
            )

    @property
    def image_shape(self) -> tuple[int, int]:
        """(H, W): (28, 28) for MNIST, (8, 8) for the digits."""
        return (self.images.shape[1], self.images.shape[2])

    def __len__(self) -> int:
        return len(self.images)


class DownloadError(RuntimeError):
    """MNIST could not be had: every mirror failed (or offline mode and nothing cached).

    ``attempts`` lists (url, reason) for every URL tried; ``summary`` is a one-line account.
    """

    def __init__(self, message: str, summary: str, attempts: Sequence[tuple[str, str]] = ()):
        super().__init__(message)
        self.summary = summary
        self.attempts = list(attempts)


def binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One Bernoulli draw per pixel: each pixel is 1 with probability equal to its grey level.

    Called once per epoch this is dynamic binarization (the setting of the published MNIST
    likelihoods); called once with a fixed generator, fixed binarization.
    Shapes: (...) -> (...), values in {0, 1}, same dtype. Taught in notebook 06_full_vae.
    """
    float_tensor("x", x)
    in_unit_interval("x", x)
    return torch.bernoulli(x, generator=generator)


# ---------------------------------------------------------------------------------------
# Loaders


def load_mnist(
    split: str = "train",
    cache_dir: str | os.PathLike | None = None,
    mirrors: Sequence[str] | None = None,
    progress: bool = False,
    *,
    offline: bool | None = None,
    timeout: float | tuple[float, ...] = DEFAULT_TIMEOUT,
    checksums: Mapping[str, str] | None = None,
    binarize: str | None = None,
    seed: int = 0,
) -> Dataset:
    """MNIST, 28x28 grey levels scaled to [0, 1]: 60,000 train or 10,000 test images.

    Files already in the cache with the right checksum are used without any network access.
    Otherwise each missing file is fetched from the first of ``mirrors`` that delivers it
    with the right checksum.

    split: "train" or "test".
    cache_dir: folder holding the four .gz files; default $VAECOURSE_DATA, else the user
        cache folder (pooch.os_cache("vaecourse") / "mnist").
    mirrors: base URLs tried in order; default $VAECOURSE_MNIST_MIRRORS (comma-separated),
        else DEFAULT_MIRRORS.
    progress: show a tqdm bar per download.
    offline: never download (default: $VAECOURSE_OFFLINE).
    timeout: seconds: (connect, read, all of one file), or (connect, read) or one number for
        both with the default 600 s per file.
    checksums: {file name: md5 hex or "alg:hex"} overriding MNIST_MD5 (for mirrors of your own).
    binarize: None (grey levels) or "fixed" (one Bernoulli draw per pixel with ``seed``;
        for dynamic binarization call ``vaecourse.data.binarize`` every epoch instead).
    Raises DownloadError listing every URL tried and why it failed; ValueError on bad
    arguments or a malformed file. Taught in notebook 06_full_vae.
    """
    split = _check_choice("split", split, _SPLITS)
    mode = _check_binarize(binarize)
    folder = _cache_dir(cache_dir)
    mirror_list = _mirrors(mirrors)
    offline = _offline(offline)
    timeouts = _timeouts(timeout)
    table = _checksums(checksums)
    _remove_stray_downloads(folder, timeouts[2])
    session = _Fetcher(folder, mirror_list, offline, timeouts, progress)
    images_file, labels_file = MNIST_FILES[split]
    images_path = session.fetch(images_file, table[images_file])
    labels_path = session.fetch(labels_file, table[labels_file])

    images = _read_idx(images_path, ndim=3)
    labels = _read_idx(labels_path, ndim=1)
    if len(images) != len(labels):
        raise ValueError(f"{images_file} holds {len(images)} images but {labels_file} holds {len(labels)} labels")
    if labels.max() > 9:
        raise ValueError(f"{labels_file} holds labels up to {labels.max()}, expected digits 0-9")
    x = torch.from_numpy(np.array(images, dtype=np.float32)).div_(255.0)
    y = torch.from_numpy(np.array(labels, dtype=np.int64))
    return Dataset(_apply_binarization(x, mode, seed), y, "mnist-full", split)


def load_digits(split: str = "train", *, binarize: str | None = None, seed: int = 0) -> Dataset:
    """scikit-learn's bundled handwritten digits: 8x8 images, grey levels 0-16 scaled to [0, 1].

    Needs no network. Split rule (deterministic, no random numbers): within each digit
    class, in the order of the file, every fifth image (the 5th, 10th, ...) is a test image,
    the rest train; that gives 1,442 train and 355 test images of the 1,797, every class
    split about 80/20.
    binarize, seed: as in ``load_mnist``. Taught in notebook 06_full_vae.
    """
    split = _check_choice("split", split, _SPLITS)
    mode = _check_binarize(binarize)
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    target = np.asarray(bunch.target, dtype=np.int64)
    keep = _every_fifth_in_class(target, split)
    x = torch.from_numpy(np.asarray(bunch.images[keep], dtype=np.float32) / np.float32(16.0))
    y = torch.from_numpy(target[keep])
    return Dataset(_apply_binarization(x, mode, seed), y, "sklearn-digits", split)


def load_mnist10k(split: str = "train", *, binarize: str | None = None, seed: int = 0) -> Dataset:
    """The course's default data: the 10,000 official MNIST test images, shipped with vaecourse.

    28x28 grey levels scaled to [0, 1], read from the package's copy of
    t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (byte for byte the published
    files, by Yann LeCun and Corinna Cortes, CC BY-SA 3.0), whose md5s are checked against
    MNIST_MD5 on every load. Needs no network.

    Split rule (fixed, no random numbers), the same as for the digits: within each digit class,
    in the order of the file, every fifth image (the 5th, 10th, ...) is a test image and the
    rest are training images. That gives 8,004 train and 1,996 test images, each class split
    80/20, and both halves draw on the two groups of writers of the MNIST test set (its first
    and last 5,000 images).
    binarize, seed: as in ``load_mnist``. Raises ValueError if a shipped file was altered.
    Taught in notebook 06_full_vae.
    """
    split = _check_choice("split", split, _SPLITS)
    mode = _check_binarize(binarize)
    images_file, labels_file = MNIST_FILES["test"]
    images = _read_idx(_shipped_file(images_file), ndim=3)
    labels = _read_idx(_shipped_file(labels_file), ndim=1).astype(np.int64)
    keep = _every_fifth_in_class(labels, split)
    x = torch.from_numpy(np.array(images[keep], dtype=np.float32)).div_(255.0)
    y = torch.from_numpy(labels[keep])
    return Dataset(_apply_binarization(x, mode, seed), y, "mnist10k", split)


def load_dataset(
    name: str = "mnist10k",
    split: str = "train",
    *,
    cache_dir: str | os.PathLike | None = None,
    mirrors: Sequence[str] | None = None,
    progress: bool = False,
    offline: bool | None = None,
    timeout: float | tuple[float, ...] = DEFAULT_TIMEOUT,
    checksums: Mapping[str, str] | None = None,
    binarize: str | None = None,
    seed: int = 0,
) -> Dataset:
    """The course's data by name: "mnist10k" (default), "mnist-full" or "sklearn-digits".

    "mnist10k": the 10,000 MNIST test images shipped with the package (``load_mnist10k``),
    split 8,004 / 1,996; every notebook trains on it, so every machine prints the same numbers.
    "mnist-full": the 60,000 + 10,000 images of MNIST, downloaded and cached (``load_mnist``;
    the download arguments cache_dir ... checksums apply to it only); raises DownloadError
    listing every URL tried when it cannot be had. "sklearn-digits": scikit-learn's 8x8
    digits (``load_digits``). No name falls back to another data set.
    Taught in notebook 06_full_vae.
    """
    if isinstance(name, str) and name in _RENAMED:
        raise ValueError(
            f"name {name!r} was renamed: use {_RENAMED[name]!r} (choices: {', '.join(repr(n) for n in _NAMES)})"
        )
    name = _check_choice("name", name, _NAMES)
    if name == "sklearn-digits":
        return load_digits(split, binarize=binarize, seed=seed)
    if name == "mnist10k":
        return load_mnist10k(split, binarize=binarize, seed=seed)
    return load_mnist(
        split,
        cache_dir,
        mirrors,
        progress,
        offline=offline,
        timeout=timeout,
        checksums=checksums,
        binarize=binarize,
        seed=seed,
    )


# ---------------------------------------------------------------------------------------
# Downloading


@dataclasses.dataclass
class _Fetcher:
    """Fetches the files of one ``load_mnist`` call with pooch, trying the mirrors in order.

    pooch does the rest: it streams into a temporary file, checks the hash, renames the file
    into place, and downloads again over a cached file whose hash does not match. A mirror
    that cannot be reached at all, or is too slow, is skipped for the call's second file.
    """

    folder: Path
    mirrors: list[str]
    offline: bool
    timeout: tuple[float, float, float]
    progress: bool
    dead: dict[str, str] = dataclasses.field(default_factory=dict)  # mirror -> why it could not be reached

    def fetch(self, fname: str, known_hash: str) -> Path:
        target = self.folder / fname
        if self.offline:
            if target.is_file() and _hash_matches(target, known_hash):
                return target
            state = "is corrupted (its checksum does not match)" if target.is_file() else "is not in the cache"
            raise DownloadError(
                f"{fname} {state} ({self.folder}) and offline mode is on ({ENV_OFFLINE} or "
                "offline=True); copy the MNIST .gz files there or allow downloads",
                summary=f"MNIST {state} and offline mode is on",
            )
        import pooch
        from requests import exceptions as rex
        from urllib3.exceptions import HTTPError as UrllibError
        from urllib3.exceptions import ReadTimeoutError

        downloader = _downloader(self.timeout, self.progress)
        attempts: list[tuple[str, str]] = []
        for mirror in self.mirrors:
            url = mirror + fname
            if mirror in self.dead:
                attempts.append((url, self.dead[mirror]))
                continue
            try:
                with _quiet_pooch():
                    pooch.retrieve(url, known_hash, fname=fname, path=self.folder, downloader=downloader)
                return target
            except ValueError:  # pooch: the downloaded file's hash does not match
                attempts.append((url, f"checksum mismatch (expected {known_hash})"))
            except rex.HTTPError as exc:
                attempts.append((url, f"HTTP {exc.response.status_code}" if exc.response is not None else "HTTP error"))
            except (rex.ReadTimeout, ReadTimeoutError):
                attempts.append((url, "the server stopped sending (read timed out)"))
            except (rex.ConnectionError, rex.Timeout, _TooSlow) as exc:
                reason = "connection timed out" if isinstance(exc, rex.ConnectTimeout) else "cannot connect"
                self.dead[mirror] = str(exc) if isinstance(exc, _TooSlow) else reason
                attempts.append((url, self.dead[mirror]))
            except (OSError, UrllibError) as exc:  # other transfer errors (requests' are OSErrors)
                attempts.append((url, type(exc).__name__))
        lines = "\n".join(f"  {url}: {reason}" for url, reason in attempts)
        raise DownloadError(
            f"could not download {fname} from any of {len(attempts)} mirror(s):\n{lines}\n"
            f"Cache folder: {self.folder}. Point {ENV_MIRRORS} (comma-separated base URLs) at a working "
            f'mirror, copy the MNIST .gz files into the cache folder, or use load_dataset("mnist10k").',
            summary=f"MNIST could not be downloaded ({'; '.join(sorted({r for _, r in attempts}))})",
            attempts=attempts,
        )


class _TooSlow(OSError):
    """A mirror still sending when the time limit per file ran out."""


def _downloader(timeout: tuple[float, float, float], progress: bool):
    """A pooch downloader: pooch.HTTPDownloader's streaming, plus the time limit per file.

    Reads return as soon as any bytes arrive (``read1``), so the limit is checked every read
    and a mirror that trickles is given up after at most timeout[2] + timeout[1] seconds.
    """

    def download(url: str, output_file: str, _pooch: object) -> None:
        import requests
        from tqdm import tqdm

        give_up = time.monotonic() + timeout[2]
        with (
            requests.get(url, timeout=timeout[:2], stream=True) as response,
            open(output_file, "wb", buffering=0) as out,
        ):
            response.raise_for_status()
            size = int(response.headers.get("content-length", 0)) or None
            with tqdm(total=size, unit="B", unit_scale=True, disable=not progress) as bar:
                while chunk := response.raw.read1(2**16, decode_content=True):
                    out.write(chunk)
                    bar.update(len(chunk))
                    if time.monotonic() > give_up:
                        raise _TooSlow(f"too slow: not done after the time limit per file, {timeout[2]:g} s")

    return download


def _remove_stray_downloads(folder: Path, older_than: float) -> None:
    """Delete the temporary files of killed downloads from the cache (pooch names them tmp and
    8 characters). One written to within the time limit per file may belong to a download
    still running in another process, and stays."""
    for path in folder.glob("tmp????????"):
        with contextlib.suppress(OSError):
            if time.time() - path.stat().st_mtime > older_than:
                path.unlink()


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    """pooch logs every download to stderr; library code prints nothing."""
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _hash_matches(path: Path, known_hash: str) -> bool:
    import pooch

    alg, _, digest = known_hash.rpartition(":")
    return pooch.file_hash(str(path), alg=alg).lower() == digest.lower()


# ---------------------------------------------------------------------------------------
# IDX files


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """Parse a gzipped IDX file of unsigned bytes (the MNIST format).

    Layout: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions,
    one big-endian uint32 per dimension, then the values in C order.
    """
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path} is not a valid gzip file ({exc}); delete it to fetch it again") from exc
    expected_magic = f"000008{ndim:02x}"
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08" or raw[3] != ndim:
        raise ValueError(
            f"{path.name} is not an IDX file of {ndim}-D unsigned bytes: magic number "
            f"{raw[:4].hex() or '(empty)'}, expected {expected_magic}"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path.name}: the IDX header is cut short ({len(raw)} bytes, expected {header})")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    if 0 in dims:
        raise ValueError(f"{path.name} is empty: its IDX header gives shape {dims}")
    size = math.prod(dims)
    if len(raw) - header != size:
        raise ValueError(
            f"{path.name}: the IDX header gives shape {dims} ({size} bytes) but the file holds "
            f"{len(raw) - header} bytes of data"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _shipped_folder() -> Path:
    """The package's folder of shipped MNIST files (inside an installed wheel too)."""
    from importlib.resources import files

    return Path(str(files("vaecourse") / "mnist"))


def _shipped_file(fname: str) -> Path:
    """The path of a data file shipped inside the package, after checking its md5."""
    path = _shipped_folder() / fname
    digest = hashlib.md5(path.read_bytes()).hexdigest()
    if digest != MNIST_MD5[fname]:
        raise ValueError(
            f"the shipped file {path} has md5 {digest}, expected {MNIST_MD5[fname]}: the "
            "installation is damaged; reinstall vaecourse"
        )
    return path


def _every_fifth_in_class(labels: np.ndarray, split: str) -> np.ndarray:
    """Boolean mask: within each class, in file order, every fifth example is "test"."""
    rank_in_class = np.empty_like(labels)
    for digit in np.unique(labels):
        members = np.flatnonzero(labels == digit)
        rank_in_class[members] = np.arange(len(members))
    is_test = rank_in_class % 5 == 4
    return is_test if split == "test" else ~is_test


# ---------------------------------------------------------------------------------------
# Arguments and environment


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        expected = " or ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value


def _check_binarize(mode: object) -> str | None:
    if mode is None or mode == "fixed":
        return mode
    hint = (
        "; dynamic binarization draws afresh every epoch: call vaecourse.data.binarize in the training loop"
        if mode == "dynamic"
        else ""
    )
    raise ValueError(f"binarize must be None or 'fixed', got {mode!r}{hint}")


def _apply_binarization(x: torch.Tensor, mode: str | None, seed: int) -> torch.Tensor:
    if mode is None:
        return x
    return binarize(x, torch.Generator().manual_seed(seed))


def _cache_dir(cache_dir: str | os.PathLike | None) -> Path:
    if cache_dir is None:
        cache_dir = os.environ.get(ENV_CACHE) or None
    if cache_dir is None:
        import pooch

        return pooch.os_cache("vaecourse").expanduser() / "mnist"
    if not isinstance(cache_dir, (str, os.PathLike)) or str(cache_dir) == "":
        raise ValueError(f"cache_dir must be a folder path, got {cache_dir!r}")
    return Path(cache_dir).expanduser()


def _mirrors(mirrors: Sequence[str] | None) -> list[str]:
    source = "mirrors"
    if mirrors is None and os.environ.get(ENV_MIRRORS, "").strip():
        mirrors = [m.strip() for m in os.environ[ENV_MIRRORS].split(",") if m.strip()]
        source = ENV_MIRRORS
    if mirrors is None:
        mirrors = DEFAULT_MIRRORS
    if isinstance(mirrors, str) or not isinstance(mirrors, Sequence) or len(mirrors) == 0:
        raise ValueError(f"{source} must be a non-empty list of base URLs, got {mirrors!r}")
    result = []
    for mirror in mirrors:
        parts = urlsplit(mirror) if isinstance(mirror, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{source} must hold http:// or https:// URLs, got {mirror!r}")
        result.append(mirror if mirror.endswith("/") else mirror + "/")
    return result


def _offline(offline: bool | None) -> bool:
    if offline is not None:
        if not isinstance(offline, bool):
            raise ValueError(f"offline must be True, False or None, got {offline!r}")
        return offline
    value = os.environ.get(ENV_OFFLINE, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ValueError(f"{ENV_OFFLINE} must be 1/true/yes or 0/false/no, got {os.environ[ENV_OFFLINE]!r}")


def _timeouts(timeout: object) -> tuple[float, float, float]:
    if isinstance(timeout, tuple) and len(timeout) in (2, 3):
        seconds = tuple(positive_float(f"timeout[{i}]", t) for i, t in enumerate(timeout))
        return (*seconds, DEFAULT_TIMEOUT[2])[:3]
    seconds = positive_float("timeout", timeout)
    return (seconds, seconds, DEFAULT_TIMEOUT[2])


def _checksums(checksums: Mapping[str, str] | None) -> dict[str, str]:
    table = dict(MNIST_MD5)
    if checksums is not None:
        if not isinstance(checksums, Mapping):
            raise ValueError(f"checksums must map file names to hashes, got {type(checksums).__name__}")
        unknown = set(checksums) - set(MNIST_MD5)
        if unknown:
            raise ValueError(f"checksums names unknown files {sorted(unknown)}; expected some of {sorted(MNIST_MD5)}")
        table.update(checksums)
    hashes = {}
    for fname, digest in table.items():
        if not isinstance(digest, str) or not re.fullmatch(r"(\w+:)?[0-9a-fA-F]+", digest):
            raise ValueError(f"checksums[{fname!r}] must be a hex digest such as an md5, got {digest!r}")
        hashes[fname] = digest if ":" in digest else f"md5:{digest}"
    return hashes
