"""Tests of vaecourse.data: MNIST over a loopback HTTP server, the digits fallback, binarization.

Every test runs offline: a ThreadingHTTPServer on 127.0.0.1 plays the mirrors, serving IDX
files built here byte by byte (the oracle is the array that was served), and the real MNIST
test files from ../shared/data/mnist when that folder exists.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import struct
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vaecourse import data
from vaecourse.data import (
    Dataset,
    DownloadError,
    binarize,
    load_dataset,
    load_digits,
    load_mnist,
    load_mnist10k,
)

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
TRAIN_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")


# ---------------------------------------------------------------------------------------
# A loopback mirror


def idx_gz(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array, gzipped: 0x0000, 0x08, ndim, big-endian dims, bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


def md5(blob: bytes) -> str:
    return hashlib.md5(blob).hexdigest()


class Mirror:
    """Serves ``routes``: URL path -> bytes, ("truncate", bytes, with_length) to send half
    of the bytes and drop the connection, or ("trickle", bytes, seconds) to send one byte every
    so many seconds. Any other path is a 404. ``hits`` logs every GET."""

    def __init__(self) -> None:
        self.routes: dict[str, object] = {}
        self.hits: list[str] = []
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                mirror.hits.append(self.path)
                route = mirror.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                if isinstance(route, tuple) and route[0] == "trickle":
                    _, blob, seconds = route
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(blob)))
                    self.end_headers()
                    try:
                        for i in range(len(blob)):
                            self.wfile.write(blob[i : i + 1])
                            self.wfile.flush()
                            time.sleep(seconds)
                    except OSError:  # the client gave up
                        self.close_connection = True
                    return
                if isinstance(route, tuple):
                    _, blob, with_length = route
                    self.send_response(200)
                    if with_length:
                        self.send_header("Content-Length", str(len(blob)))
                    self.end_headers()
                    self.wfile.write(blob[: len(blob) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(route)))
                self.end_headers()
                self.wfile.write(route)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def url(self, prefix: str) -> str:
        return f"{self.base}/{prefix}/"

    def publish(self, prefix: str, files: dict[str, bytes]) -> None:
        for name, blob in files.items():
            self.routes[f"/{prefix}/{name}"] = blob

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def mirror():
    server = Mirror()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path, monkeypatch):
    """Never touch the user's cache, the real mirrors, or a proxy."""
    for var in ("VAECOURSE_MNIST_MIRRORS", "VAECOURSE_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("VAECOURSE_DATA", str(tmp_path / "env-cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def closed_port_url() -> str:
    """A loopback URL nobody listens on: connecting is refused at once, as on a dead network."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def small_mnist(n: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, bytes]]:
    """n random 28x28 images and labels, as the two test-split files."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255  # both ends of the grey scale
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    files = {TEST_FILES[0]: idx_gz(images), TEST_FILES[1]: idx_gz(labels)}
    return images, labels, files


def checksums_of(files: dict[str, bytes]) -> dict[str, str]:
    return {name: md5(blob) for name, blob in files.items()}


def cached(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---------------------------------------------------------------------------------------
# Downloading


def test_a_good_download_parses_to_exactly_what_was_served(mirror, tmp_path):
    images, labels, files = small_mnist()
    mirror.publish("m", files)
    ds = load_mnist("test", cache_dir=tmp_path / "c", mirrors=[mirror.url("m")], checksums=checksums_of(files))
    assert ds.name == "mnist-full" and ds.split == "test"
    assert ds.images.dtype == torch.float32 and ds.labels.dtype == torch.int64
    assert ds.images.shape == (10, 28, 28) and ds.image_shape == (28, 28) and len(ds) == 10
    torch.testing.assert_close(ds.images, torch.tensor(images / 255.0, dtype=torch.float32), rtol=0, atol=0)
    assert ds.labels.tolist() == labels.tolist()
    assert ds.images.min().item() == 0.0 and ds.images.max().item() == 1.0
    assert cached(tmp_path / "c") == sorted(TEST_FILES)


def test_the_train_split_reads_the_train_files(mirror, tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7, dtype=np.uint8)
    files = {TRAIN_FILES[0]: idx_gz(images), TRAIN_FILES[1]: idx_gz(labels)}
    mirror.publish("m", files)
    ds = load_mnist("train", cache_dir=tmp_path, mirrors=[mirror.url("m")], checksums=checksums_of(files))
    assert ds.split == "train" and ds.labels.tolist() == labels.tolist()
    assert sorted(mirror.hits) == sorted(f"/m/{f}" for f in TRAIN_FILES)


def test_cached_files_are_used_without_the_network(mirror, tmp_path):
    _, labels, files = small_mnist()
    mirror.publish("m", files)
    kwargs = dict(cache_dir=tmp_path, mirrors=[mirror.url("m")], checksums=checksums_of(files))
    load_mnist("test", **kwargs)
    mirror.hits.clear()
    mirror.routes.clear()  # the mirror is gone; the cache must suffice
    assert load_mnist("test", **kwargs).labels.tolist() == labels.tolist()
    assert mirror.hits == []


def test_a_checksum_mismatch_fails_clearly_and_leaves_nothing_in_the_cache(mirror, tmp_path):
    _, _, files = small_mnist()
    expected = checksums_of(files)
    tampered = dict(files)
    blob = bytearray(files[TEST_FILES[0]])
    blob[len(blob) // 2] ^= 0xFF
    tampered[TEST_FILES[0]] = bytes(blob)
    mirror.publish("m", tampered)
    with pytest.raises(DownloadError, match="checksum mismatch") as info:
        load_mnist("test", cache_dir=tmp_path / "c", mirrors=[mirror.url("m")], checksums=expected)
    assert expected[TEST_FILES[0]] in str(info.value)
    assert info.value.attempts == [(mirror.url("m") + TEST_FILES[0], info.value.attempts[0][1])]
    assert cached(tmp_path / "c") == []


@pytest.mark.parametrize("with_length", [True, False], ids=["content-length", "no-length"])
def test_an_interrupted_transfer_leaves_no_corrupt_file_and_the_next_call_succeeds(mirror, tmp_path, with_length):
    _, labels, files = small_mnist(n=200)
    mirror.publish("m", files)
    mirror.routes[f"/m/{TEST_FILES[0]}"] = ("truncate", files[TEST_FILES[0]], with_length)
    kwargs = dict(cache_dir=tmp_path / "c", mirrors=[mirror.url("m")], checksums=checksums_of(files))
    with pytest.raises(DownloadError, match="could not download"):
        load_mnist("test", **kwargs)
    assert cached(tmp_path / "c") == []

    mirror.publish("m", files)  # the server is healthy again
    assert load_mnist("test", **kwargs).labels.tolist() == labels.tolist()
    assert cached(tmp_path / "c") == sorted(TEST_FILES)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_corrupted_cached_file_is_detected_and_downloaded_again(mirror, tmp_path, damage):
    images, _, files = small_mnist()
    mirror.publish("m", files)
    kwargs = dict(cache_dir=tmp_path, mirrors=[mirror.url("m")], checksums=checksums_of(files))
    load_mnist("test", **kwargs)
    target = tmp_path / TEST_FILES[0]
    blob = target.read_bytes()
    target.write_bytes({"truncated": blob[: len(blob) // 2], "garbage": b"not mnist", "empty": b""}[damage])
    mirror.hits.clear()
    ds = load_mnist("test", **kwargs)
    assert mirror.hits == [f"/m/{TEST_FILES[0]}"]
    assert md5(target.read_bytes()) == md5(files[TEST_FILES[0]])
    torch.testing.assert_close(ds.images, torch.tensor(images / 255.0, dtype=torch.float32), rtol=0, atol=0)


def test_a_mirror_that_404s_is_skipped_for_the_next(mirror, tmp_path):
    _, labels, files = small_mnist()
    mirror.publish("good", files)
    ds = load_mnist(
        "test",
        cache_dir=tmp_path,
        mirrors=[mirror.url("gone"), mirror.url("good")],
        checksums=checksums_of(files),
    )
    assert ds.labels.tolist() == labels.tolist()
    assert mirror.hits == [
        f"/gone/{TEST_FILES[0]}",
        f"/good/{TEST_FILES[0]}",
        f"/gone/{TEST_FILES[1]}",
        f"/good/{TEST_FILES[1]}",
    ]


def test_an_unreachable_mirror_is_not_tried_again_for_the_second_file(mirror, tmp_path, monkeypatch):
    import requests

    _, labels, files = small_mnist()
    mirror.publish("good", files)
    dead = closed_port_url()
    tried = []
    real_get = requests.get

    def spy(url, *args, **kwargs):
        tried.append(url)
        return real_get(url, *args, **kwargs)

    monkeypatch.setattr(requests, "get", spy)
    ds = load_mnist(
        "test",
        cache_dir=tmp_path,
        mirrors=[dead, mirror.url("good")],
        checksums=checksums_of(files),
    )
    assert ds.labels.tolist() == labels.tolist()
    assert tried == [
        dead + TEST_FILES[0],
        mirror.url("good") + TEST_FILES[0],
        mirror.url("good") + TEST_FILES[1],
    ]


def test_without_network_mnist_full_raises_an_error_listing_every_url_tried(mirror, tmp_path, capsys):
    mirrors = [closed_port_url(), mirror.url("empty")]
    with pytest.raises(DownloadError) as info:
        load_dataset("mnist-full", "test", cache_dir=tmp_path, mirrors=mirrors)
    message = str(info.value)
    assert f"{mirrors[0]}{TEST_FILES[0]}: cannot connect" in message
    assert f"{mirrors[1]}{TEST_FILES[0]}: HTTP 404" in message
    assert "VAECOURSE_MNIST_MIRRORS" in message and str(tmp_path) in message
    assert info.value.summary == "MNIST could not be downloaded (HTTP 404; cannot connect)"
    assert capsys.readouterr().out == ""


@pytest.mark.skipif(sys.platform != "linux", reason="relies on Linux dropping SYNs to a full backlog")
def test_a_mirror_that_never_answers_times_out_after_the_connect_timeout(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]  # fill the backlog; nothing is accepted
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
        try:
            start = time.monotonic()
            with pytest.raises(DownloadError) as info:
                load_mnist(
                    "test",
                    cache_dir=tmp_path,
                    mirrors=[f"http://127.0.0.1:{port}/"],
                    timeout=(0.3, 5),
                )
            elapsed = time.monotonic() - start
        finally:
            for filler in fillers:
                filler.close()
    assert info.value.summary == "MNIST could not be downloaded (connection timed out)"
    assert elapsed < 3


def test_a_mirror_that_trickles_is_abandoned_after_the_time_limit_per_file_and_leaves_nothing(mirror, tmp_path):
    _, labels, files = small_mnist()
    mirror.publish("good", files)
    mirror.routes[f"/slow/{TEST_FILES[0]}"] = ("trickle", files[TEST_FILES[0]], 0.02)  # 50 bytes/s, 1 at a time
    kwargs = dict(cache_dir=tmp_path, checksums=checksums_of(files), timeout=(2, 2, 1.0))
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        load_mnist("test", mirrors=[mirror.url("slow")], **kwargs)
    elapsed = time.monotonic() - start
    assert 1.0 <= elapsed < 3  # the limit, not the 160 s the file would take (nor the read timeout)
    assert info.value.summary == "MNIST could not be downloaded (too slow: not done after the time limit per file, 1 s)"
    assert cached(tmp_path) == []  # no temporary file left behind

    mirror.hits.clear()  # the next mirror delivers; the slow one is not asked for the second file
    ds = load_mnist("test", mirrors=[mirror.url("slow"), mirror.url("good")], **kwargs)
    assert ds.labels.tolist() == labels.tolist()
    assert mirror.hits == [f"/slow/{TEST_FILES[0]}", f"/good/{TEST_FILES[0]}", f"/good/{TEST_FILES[1]}"]
    assert cached(tmp_path) == sorted(TEST_FILES)


def test_a_mirror_that_stops_sending_is_given_up_after_the_read_timeout(mirror, tmp_path):
    _, _, files = small_mnist()
    mirror.routes[f"/stalls/{TEST_FILES[0]}"] = ("trickle", files[TEST_FILES[0]], 30.0)  # one byte, then silence
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        load_mnist("test", cache_dir=tmp_path, mirrors=[mirror.url("stalls")], timeout=(2, 0.5, 60))
    assert time.monotonic() - start < 2.5
    assert info.value.summary == "MNIST could not be downloaded (the server stopped sending (read timed out))"
    assert cached(tmp_path) == []


def test_a_temporary_file_left_by_a_killed_download_is_deleted_by_a_later_load(mirror, tmp_path):
    import subprocess

    _, labels, files = small_mnist()
    mirror.publish("good", files)
    mirror.routes[f"/slow/{TEST_FILES[0]}"] = ("trickle", files[TEST_FILES[0]], 0.02)
    cache = tmp_path / "cache"
    download = (
        "from vaecourse.data import load_mnist; "
        f"load_mnist('test', cache_dir={str(cache)!r}, mirrors=[{mirror.url('slow')!r}], "
        f"checksums={checksums_of(files)!r}, timeout=(5, 5, 60))"
    )
    process = subprocess.Popen([sys.executable, "-c", download])
    try:
        deadline = time.monotonic() + 60
        while not (cache.is_dir() and any(p.stat().st_size > 0 for p in cache.iterdir())):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
    finally:
        process.kill()  # as the operating system kills a process: no clean-up runs
        process.wait()
    (stray,) = cache.iterdir()  # what pooch was writing to
    assert stray.name.startswith("tmp") and stray.stat().st_size > 0
    fresh = cache / "tmpabcd1234"  # as if another process were downloading right now
    fresh.write_bytes(b"partial")
    mine = cache / "tmp-notes.txt"
    mine.write_text("a file of the user's")
    time.sleep(1.1)
    fresh.touch()

    ds = load_mnist(
        "test", cache_dir=cache, mirrors=[mirror.url("good")], checksums=checksums_of(files), timeout=(2, 2, 1.0)
    )
    assert ds.labels.tolist() == labels.tolist()
    assert cached(cache) == sorted([*TEST_FILES, fresh.name, mine.name])


def test_offline_mode_never_touches_the_network(mirror, tmp_path, monkeypatch, capsys):
    _, labels, files = small_mnist()
    mirror.publish("m", files)
    kwargs = dict(cache_dir=tmp_path, mirrors=[mirror.url("m")], checksums=checksums_of(files))
    monkeypatch.setenv("VAECOURSE_OFFLINE", "1")
    with pytest.raises(DownloadError, match="offline mode"):
        load_mnist("test", **kwargs)
    with pytest.raises(DownloadError, match="offline mode"):
        load_dataset("mnist-full", "test", **kwargs)
    assert capsys.readouterr().out == ""
    assert mirror.hits == [] and cached(tmp_path) == []

    assert load_mnist("test", offline=False, **kwargs).labels.tolist() == labels.tolist()
    mirror.hits.clear()
    assert load_dataset("mnist-full", "test", **kwargs).name == "mnist-full"  # cached files are enough
    assert mirror.hits == []


def test_offline_mode_refuses_a_corrupted_cached_file(mirror, tmp_path):
    _, _, files = small_mnist()
    mirror.publish("m", files)
    kwargs = dict(cache_dir=tmp_path, mirrors=[mirror.url("m")], checksums=checksums_of(files))
    load_mnist("test", **kwargs)
    (tmp_path / TEST_FILES[1]).write_bytes(b"damaged")
    with pytest.raises(DownloadError, match="is corrupted .* offline mode is on"):
        load_mnist("test", offline=True, **kwargs)


def test_cache_dir_and_mirrors_come_from_the_environment(mirror, tmp_path, monkeypatch):
    _, labels, files = small_mnist()
    mirror.publish("m", files)
    monkeypatch.setenv("VAECOURSE_DATA", str(tmp_path / "from-env"))
    monkeypatch.setenv("VAECOURSE_MNIST_MIRRORS", f"{closed_port_url()}, {mirror.base}/m")
    ds = load_mnist("test", checksums=checksums_of(files))
    assert ds.labels.tolist() == labels.tolist()
    assert cached(tmp_path / "from-env") == sorted(TEST_FILES)
    # An explicit argument wins over the environment.
    load_mnist("test", cache_dir=tmp_path / "arg", checksums=checksums_of(files))
    assert cached(tmp_path / "arg") == sorted(TEST_FILES)


@pytest.mark.skipif(sys.platform != "linux", reason="XDG_CACHE_HOME sets the user cache on Linux only")
def test_the_default_cache_is_the_user_cache_folder(mirror, tmp_path, monkeypatch):
    _, _, files = small_mnist()
    mirror.publish("m", files)
    monkeypatch.delenv("VAECOURSE_DATA")
    load_mnist("test", mirrors=[mirror.url("m")], checksums=checksums_of(files))
    assert cached(tmp_path / "xdg" / "vaecourse" / "mnist") == sorted(TEST_FILES)


def _header(ndim: int, dims: tuple[int, ...], code: int = 0x08) -> bytes:
    return bytes([0, 0, code, ndim]) + struct.pack(f">{len(dims)}I", *dims)


MALFORMED_IMAGES = {
    "bad magic": (
        gzip.compress(b"\x12\x34\x08\x03" + struct.pack(">3I", 1, 2, 2) + bytes(4)),
        "magic number",
    ),
    "int32 values": (gzip.compress(_header(3, (1, 2, 2), code=0x0C) + bytes(16)), "magic number"),
    "labels as images": (
        gzip.compress(_header(1, (4,)) + bytes(4)),
        "magic number 00000801, expected 00000803",
    ),
    "short header": (gzip.compress(_header(3, (1,))), "header is cut short"),
    "short payload": (gzip.compress(_header(3, (2, 2, 2)) + bytes(5)), "holds 5 bytes of data"),
    "no images": (gzip.compress(_header(3, (0, 28, 28))), "is empty"),
    "not gzip": (b"\x00\x00\x08\x03 plain bytes", "not a valid gzip file"),
    "cut gzip": (gzip.compress(_header(3, (1, 2, 2)) + bytes(4))[:-6], "not a valid gzip file"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_IMAGES))
def test_a_malformed_file_raises_a_value_error_that_says_what_is_wrong(mirror, tmp_path, case):
    blob, message = MALFORMED_IMAGES[case]
    _, _, files = small_mnist()
    files[TEST_FILES[0]] = blob
    mirror.publish("m", files)
    with pytest.raises(ValueError, match=message):
        load_mnist("test", cache_dir=tmp_path, mirrors=[mirror.url("m")], checksums=checksums_of(files))


@settings(max_examples=40, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 5), st.integers(1, 9), st.integers(1, 9)),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_idx_reader_returns_every_byte_it_was_given(tmp_path_factory, shape, seed):
    array = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
    path = tmp_path_factory.mktemp("idx") / "images.gz"
    path.write_bytes(idx_gz(array))
    assert np.array_equal(data._read_idx(path, ndim=3), array)


def test_a_progress_bar_does_not_change_the_result(mirror, tmp_path, capfd):
    _, labels, files = small_mnist()
    mirror.publish("m", files)
    ds = load_mnist(
        "test",
        cache_dir=tmp_path,
        mirrors=[mirror.url("m")],
        progress=True,
        checksums=checksums_of(files),
    )
    assert ds.labels.tolist() == labels.tolist()
    assert capfd.readouterr().out == ""  # tqdm writes to stderr


def test_images_and_labels_must_agree(mirror, tmp_path):
    images, labels, files = small_mnist()
    files[TEST_FILES[1]] = idx_gz(labels[:9])
    mirror.publish("m", files)
    with pytest.raises(ValueError, match="10 images but .* 9 labels"):
        load_mnist("test", cache_dir=tmp_path, mirrors=[mirror.url("m")], checksums=checksums_of(files))
    files[TEST_FILES[1]] = idx_gz(np.full(10, 11, dtype=np.uint8))
    mirror.publish("m", files)
    with pytest.raises(ValueError, match="labels up to 11"):
        load_mnist(
            "test",
            cache_dir=tmp_path / "2",
            mirrors=[mirror.url("m")],
            checksums=checksums_of(files),
        )


# ---------------------------------------------------------------------------------------
# The real MNIST test files (../shared/data/mnist), when present

needs_shared = pytest.mark.skipif(
    not all((SHARED_MNIST / f).is_file() for f in TEST_FILES),
    reason=f"the real MNIST test files are not in {SHARED_MNIST} (they live outside the repo)",
)
# Published facts about the MNIST test split: its first ten labels and its class counts.
FIRST_TEST_LABELS = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
TEST_CLASS_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def check_real_test_split(ds: Dataset) -> None:
    assert ds.images.shape == (10000, 28, 28) and ds.labels.shape == (10000,)
    assert ds.labels[:10].tolist() == FIRST_TEST_LABELS
    assert torch.bincount(ds.labels).tolist() == TEST_CLASS_COUNTS
    assert ds.images.min().item() == 0.0 and ds.images.max().item() == 1.0


@needs_shared
def test_the_real_test_files_download_and_match_the_published_checksums(mirror, tmp_path):
    mirror.publish("real", {f: (SHARED_MNIST / f).read_bytes() for f in TEST_FILES})
    ds = load_mnist("test", cache_dir=tmp_path, mirrors=[mirror.url("real")])  # the built-in md5s
    check_real_test_split(ds)


@needs_shared
def test_a_folder_holding_the_real_files_serves_as_a_read_only_cache():
    before = {p.name: p.stat().st_mtime_ns for p in SHARED_MNIST.iterdir()}
    ds = load_mnist("test", cache_dir=SHARED_MNIST, offline=True)
    check_real_test_split(ds)
    assert {p.name: p.stat().st_mtime_ns for p in SHARED_MNIST.iterdir()} == before


# ---------------------------------------------------------------------------------------
# The MNIST test files shipped with the package (the course's default data)

# The published md5s of the official files (the MNIST README in ../shared lists the same).
PUBLISHED_MD5 = {
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}


def read_idx_independently(path: Path) -> np.ndarray:
    """An IDX reader written apart from the package's: the header by struct, the rest by numpy."""
    raw = gzip.open(path).read()
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    return np.frombuffer(raw[4 + 4 * ndim :], dtype=np.uint8).reshape(dims)


def test_the_shipped_files_are_byte_for_byte_the_published_ones():
    folder = data._shipped_folder()
    assert sorted(p.name for p in folder.glob("*.gz")) == sorted(TEST_FILES)
    for name, digest in PUBLISHED_MD5.items():
        assert md5((folder / name).read_bytes()) == digest


def test_mnist10k_splits_the_ten_thousand_test_images_8004_to_1996_with_every_fifth_of_each_class():
    folder = data._shipped_folder()
    images = read_idx_independently(folder / TEST_FILES[0])
    labels = read_idx_independently(folder / TEST_FILES[1]).astype(np.int64)
    train, test = load_mnist10k("train"), load_dataset("mnist10k", "test")
    assert (train.name, train.split, test.name, test.split) == ("mnist10k", "train", "mnist10k", "test")
    assert len(train) == 8004 and len(test) == 1996 and train.image_shape == (28, 28)
    # The rule, written out: the k-th image of each class (k = 1, 2, ...) is a test image when
    # k is a multiple of 5.
    seen = {digit: 0 for digit in range(10)}
    test_index, train_index = [], []
    for i, digit in enumerate(labels.tolist()):
        seen[digit] += 1
        (test_index if seen[digit] % 5 == 0 else train_index).append(i)
    for ds, index in ((train, train_index), (test, test_index)):
        assert ds.labels.tolist() == labels[index].tolist()
        expected = torch.tensor(images[index] / 255.0, dtype=torch.float32)
        torch.testing.assert_close(ds.images, expected, rtol=0, atol=0)
    counts = torch.bincount(test.labels, minlength=10) / torch.bincount(
        torch.cat([train.labels, test.labels]), minlength=10
    )
    assert ((counts - 0.2).abs() < 0.005).all()
    # Both halves of the MNIST test set (two groups of writers) feed both splits.
    assert min(test_index) < 50 and max(test_index) > 9950


def test_mnist10k_needs_no_network_no_cache_and_no_shared_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("VAECOURSE_OFFLINE", "1")
    monkeypatch.setenv("VAECOURSE_DATA", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("VAECOURSE_MNIST_MIRRORS", closed_port_url())
    ds = load_dataset()
    assert ds.name == "mnist10k" and len(ds) == 8004
    assert not (tmp_path / "nothing-here").exists()


def test_a_shipped_file_that_was_altered_is_refused(monkeypatch, tmp_path):
    for name in TEST_FILES:
        (tmp_path / name).write_bytes((data._shipped_folder() / name).read_bytes())
    blob = bytearray((tmp_path / TEST_FILES[0]).read_bytes())
    blob[len(blob) // 2] ^= 0x01
    (tmp_path / TEST_FILES[0]).write_bytes(bytes(blob))
    monkeypatch.setattr(data, "_shipped_folder", lambda: tmp_path)
    with pytest.raises(ValueError, match="has md5 .* expected 9fb629c4189551a2d022fa330f9573f3"):
        load_mnist10k("test")


def test_fixed_binarization_of_mnist10k_is_reproducible_and_keeps_the_split():
    a = load_mnist10k("test", binarize="fixed", seed=1)
    b = load_dataset("mnist10k", "test", binarize="fixed", seed=1)
    grey = load_mnist10k("test")
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, grey.labels)
    assert set(a.images.unique().tolist()) == {0.0, 1.0}
    # Each pixel is on with probability equal to its grey level: compare the mean over images.
    assert abs(a.images.mean().item() - grey.images.mean().item()) < 0.002


# ---------------------------------------------------------------------------------------
# The digits


def test_the_digits_are_8x8_in_the_unit_interval_and_split_80_20_by_class():
    from sklearn.datasets import load_digits as sklearn_digits

    train, test = load_digits("train"), load_digits("test")
    assert train.name == test.name == "sklearn-digits"
    assert train.images.shape == (1442, 8, 8) and test.images.shape == (355, 8, 8)
    assert train.image_shape == (8, 8)
    for ds in (train, test):
        assert ds.images.dtype == torch.float32 and ds.labels.dtype == torch.int64
        assert ds.images.min().item() == 0.0 and ds.images.max().item() == 1.0
    # Together they are exactly scikit-learn's 1,797 images, each once.
    reference = sklearn_digits()
    together = (torch.cat([train.images, test.images]).flatten(1) * 16).round().int()
    assert sorted(map(tuple, together.tolist())) == sorted(map(tuple, reference.data.astype(int).tolist()))
    counts = np.bincount(reference.target)
    assert torch.bincount(test.labels).tolist() == (counts // 5).tolist()


def test_the_digits_split_is_the_same_every_time():
    a, b = load_digits("test"), load_digits("test")
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert torch.equal(load_dataset("sklearn-digits", "test").images, a.images)


# ---------------------------------------------------------------------------------------
# Binarization


def test_binarize_draws_each_pixel_with_probability_equal_to_its_grey_level():
    grey = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0])
    draws = binarize(grey.expand(20000, 5).contiguous(), torch.Generator().manual_seed(0))
    assert set(draws.unique().tolist()) <= {0.0, 1.0}
    # Standard error of a mean of 20,000 Bernoulli draws is at most 0.0036; allow 5 of them.
    torch.testing.assert_close(draws.mean(0), grey, rtol=0, atol=0.018)


def test_fixed_binarization_is_reproducible_and_dynamic_is_not_a_loader_option():
    a = load_digits("test", binarize="fixed", seed=3)
    b = load_dataset("sklearn-digits", "test", binarize="fixed", seed=3)
    assert torch.equal(a.images, b.images)
    assert set(a.images.unique().tolist()) == {0.0, 1.0}
    assert not torch.equal(a.images, load_digits("test", binarize="fixed", seed=4).images)
    with pytest.raises(ValueError, match="binarize.*call vaecourse.data.binarize"):
        load_digits(binarize="dynamic")


def test_binarize_rejects_raw_bytes():
    with pytest.raises(ValueError, match="x must lie in \\[0, 1\\]"):
        binarize(torch.tensor([0.0, 255.0]))


def test_binarize_refuses_a_meta_tensor_and_draws_nothing_from_an_empty_one():
    with pytest.raises(ValueError, match="x is on the meta device"):
        binarize(torch.empty(3, 4, device="meta"))
    assert binarize(torch.empty(0, 28, 28)).shape == (0, 28, 28)


def test_checking_a_broadcast_view_does_not_allocate_its_full_size():
    # 200,000 images expanded from one: 157 million pixels held in 784 floats. Checking them for
    # finite values in [0, 1] allocated about 900 MB before the checks looked through the expand.
    code = (
        "import resource, torch; from vaecourse.data import Dataset, binarize\n"
        "one = torch.rand(1, 28, 28); images = one.expand(200_000, 28, 28); labels = torch.zeros(200_000, dtype=torch.int64)\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "Dataset(images, labels, 'mnist10k', 'train')\n"
        "try:\n    Dataset((one + 1).expand(200_000, 28, 28), labels, 'mnist10k', 'train')\nexcept ValueError as exc:\n    print(exc)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0].startswith("images must lie in [0, 1]")
    assert int(out[1]) < 50  # MB


# ---------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: load_dataset("fashion"),
            "name must be 'mnist10k' or 'mnist-full' or 'sklearn-digits', got 'fashion'",
        ),
        (lambda: load_dataset("auto"), "name 'auto' was renamed: use 'mnist10k'"),
        (lambda: load_dataset("mnist"), "name 'mnist' was renamed: use 'mnist-full'"),
        (lambda: load_dataset("digits"), "name 'digits' was renamed: use 'sklearn-digits'"),
        (lambda: load_mnist10k("validation"), "split must be 'train' or 'test'"),
        (lambda: load_mnist10k(binarize="dynamic"), "binarize must be None or 'fixed'"),
        (
            lambda: load_dataset("mnist10k", "validation"),
            "split must be 'train' or 'test', got 'validation'",
        ),
        (lambda: load_mnist("val"), "split must be"),
        (lambda: load_digits("all"), "split must be"),
        (lambda: load_mnist("test", mirrors=[]), "mirrors must be a non-empty list"),
        (lambda: load_mnist("test", mirrors="http://x/"), "mirrors must be a non-empty list"),
        (lambda: load_mnist("test", mirrors=["ftp://x/"]), "mirrors must hold http"),
        (lambda: load_mnist("test", timeout=0), "timeout must be a finite number > 0"),
        (lambda: load_mnist("test", timeout=(1.0, -1.0)), "timeout\\[1\\]"),
        (lambda: load_mnist("test", timeout=(1.0, 2.0, float("inf"))), "timeout\\[2\\]"),
        (lambda: load_mnist("test", timeout=(1.0, 2.0, 3.0, 4.0)), "timeout must be a positive number"),
        (lambda: load_mnist("test", checksums={"mnist.npz": "00"}), "unknown files"),
        (lambda: load_mnist("test", checksums={TEST_FILES[0]: "xyz"}), "hex digest"),
        (lambda: load_mnist("test", offline="yes"), "offline must be True, False or None"),
        (lambda: load_mnist("test", binarize="threshold"), "binarize must be None or 'fixed'"),
    ],
)
def test_bad_arguments_raise_a_value_error_naming_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_bad_offline_variable_is_named(monkeypatch):
    monkeypatch.setenv("VAECOURSE_OFFLINE", "maybe")
    with pytest.raises(ValueError, match="VAECOURSE_OFFLINE must be"):
        load_mnist("test")


def test_a_bad_mirror_variable_is_named(monkeypatch):
    monkeypatch.setenv("VAECOURSE_MNIST_MIRRORS", "not a url")
    with pytest.raises(ValueError, match="VAECOURSE_MNIST_MIRRORS must hold http"):
        load_mnist("test")


@pytest.mark.parametrize(
    "images, labels, message",
    [
        (torch.zeros(0, 8, 8), torch.zeros(0, dtype=torch.int64), "N >= 1"),
        (torch.zeros(3, 8, 8), torch.zeros(2, dtype=torch.int64), "3 images and 2 labels"),
        (
            torch.full((2, 8, 8), 255.0),
            torch.zeros(2, dtype=torch.int64),
            "images must lie in \\[0, 1\\]",
        ),
        (torch.zeros(2, 64), torch.zeros(2, dtype=torch.int64), "shape \\(N, H, W\\)"),
        (torch.zeros(2, 8, 8, dtype=torch.float64), torch.zeros(2, dtype=torch.int64), "float32"),
        (torch.zeros(2, 8, 8), torch.zeros(2), "labels must be int64"),
    ],
)
def test_a_dataset_checks_what_it_holds(images, labels, message):
    with pytest.raises(ValueError, match=message):
        Dataset(images, labels, "sklearn-digits", "train")


def test_the_module_keeps_pooch_quiet_and_restores_its_logger(mirror, tmp_path, capfd):
    import pooch

    level = pooch.get_logger().level
    _, _, files = small_mnist()
    mirror.publish("m", files)
    load_mnist("test", cache_dir=tmp_path, mirrors=[mirror.url("m")], checksums=checksums_of(files))
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert pooch.get_logger().level == level
