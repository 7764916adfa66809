"""The build-output cache's storage layer: real files, a real turborepo-remote-cache server, real failures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from cacheserver import CacheServer, FailingServer, server_entry
from unit.test_cache_stores import TEAM, new_key, package, rewrite_tar, tampered, write_outputs  # noqa: F401 -- package: a fixture

from package_builder_dagster.cache.artifact import CorruptArtifact, pack, restore
from package_builder_dagster.cache.stores import ArtifactCache, LocalStore, RemoteStore
from package_builder_dagster.errors import StoreError

# ---- helpers ----------------------------------------------------------------------------------


# ---- fixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server_toolchain(toolchain: Path) -> Path:
    """The toolchain, with turborepo-remote-cache installed (an older node_modules may predate it)."""
    if not server_entry(toolchain).exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=toolchain, check=True)
    return toolchain


@pytest.fixture(scope="module")
def cache_server(server_toolchain: Path, tmp_path_factory):
    with CacheServer(server_toolchain, tmp_path_factory.mktemp("remote-cache") / "storage", secrets.token_hex(12)) as server:
        yield server


@pytest.fixture(scope="module")
def signing_server(server_toolchain: Path, tmp_path_factory):
    storage = tmp_path_factory.mktemp("signing-cache") / "storage"
    with CacheServer(server_toolchain, storage, secrets.token_hex(12), signatures=True) as server:
        yield server


# ---- artifacts --------------------------------------------------------------------------------


# ---- local store ------------------------------------------------------------------------------


def test_read_only_directory_is_a_store_error(tmp_path):
    """A folder the process may not write to (as root, the check runs in a forked child that drops to
    `nobody`, since chmod does not stop root)."""
    LocalStore(tmp_path / "warm").put("warm", b"x")  # imports done before any fork
    outer = Path(tempfile.mkdtemp(prefix="pb-readonly-", dir="/tmp"))  # /tmp/pytest-of-root is 0700
    outer.chmod(0o755)
    directory = outer / "cache"
    directory.mkdir()
    directory.chmod(0o555)
    try:
        assert _as_unprivileged(lambda: _put_raises_store_error(directory)), "put into a read-only folder"
    finally:
        directory.chmod(0o755)
        shutil.rmtree(outer)


def _put_raises_store_error(directory: Path) -> bool:
    try:
        LocalStore(directory).put("abc", b"blob")
    except StoreError:
        return True
    return False


def _as_unprivileged(check) -> bool:
    """`check()` in this process, or, as root, in a forked child running as `nobody`."""
    if os.geteuid() != 0:
        return check()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.setgid(65534)
            os.setuid(65534)
            os._exit(0 if check() else 1)
        except BaseException:
            os._exit(2)
    return os.waitpid(pid, 0)[1] == 0


# ---- remote store (real turborepo-remote-cache) -----------------------------------------------

def test_remote_round_trip(cache_server):
    store = RemoteStore(cache_server.url, cache_server.token, TEAM)
    key, blob = new_key(), os.urandom(50_000)
    assert store.get(key) is None and store.last_miss_reason == "not found"
    assert not store.has(key)
    store.put(key, blob, duration_ms=1234)
    assert store.has(key)
    assert store.get(key) == blob
    assert cache_server.artifact_path(key, TEAM).read_bytes() == blob


def test_remote_team_id_goes_in_team_id_query(cache_server):
    store = RemoteStore(cache_server.url, cache_server.token, "team_abc123")
    key = new_key()
    store.put(key, b"x")
    assert cache_server.artifact_path(key, "team_abc123").read_bytes() == b"x"


def test_wrong_token_is_a_store_error_without_the_token(cache_server):
    token = "wrong-" + secrets.token_hex(16)
    store = RemoteStore(cache_server.url, token, TEAM)
    for call in (lambda: store.get(new_key()), lambda: store.put(new_key(), b"x"), lambda: store.has(new_key())):
        with pytest.raises(StoreError) as info:
            call()
        assert "401" in str(info.value) and "token" in str(info.value)
        assert token not in str(info.value)
    assert token not in repr(store) and "***" in repr(store)


def test_read_only_never_uploads(cache_server):
    key = new_key()
    RemoteStore(cache_server.url, cache_server.token, TEAM, read_only=True).put(key, b"blob")
    assert not cache_server.artifact_path(key, TEAM).exists()
    assert not RemoteStore(cache_server.url, cache_server.token, TEAM).has(key)


def test_signed_artifacts(signing_server):
    signed = RemoteStore(signing_server.url, signing_server.token, TEAM, signature_key="key-one-" + "x" * 24)
    key, blob = new_key(), os.urandom(10_000)
    signed.put(key, blob)
    assert signing_server.artifact_path(key + ".tag", TEAM).exists()
    assert signed.get(key) == blob

    other = RemoteStore(signing_server.url, signing_server.token, TEAM, signature_key="key-two-" + "x" * 24)
    assert other.get(key) is None and other.last_miss_reason == "signature tag does not match"

    # A tampered body with the original tag is a miss too.
    signing_server.artifact_path(key, TEAM).write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    assert signed.get(key) is None and signed.last_miss_reason == "signature tag does not match"


@pytest.mark.parametrize("team, signed_team", [("team_pb123", b"team_pb123"), (TEAM, b"")])
def test_signature_tag_is_turborepos_hmac(signing_server, team, signed_team):
    key, blob, secret = new_key(), os.urandom(3000), "s" * 32
    RemoteStore(signing_server.url, signing_server.token, team, signature_key=secret).put(key, blob)
    expected = hmac.new(secret.encode(), key.encode() + signed_team + blob, hashlib.sha256).digest()
    assert signing_server.artifact_path(key + ".tag", team).read_text() == base64.b64encode(expected).decode()


def test_unsigned_artifact_is_a_miss_when_signing(cache_server):
    key = new_key()
    RemoteStore(cache_server.url, cache_server.token, TEAM).put(key, b"blob")
    signed = RemoteStore(cache_server.url, cache_server.token, TEAM, signature_key="k" * 32)
    assert signed.get(key) is None and signed.last_miss_reason == "signature tag missing"


def test_503_server_is_a_store_error():
    with FailingServer(503) as server:
        store = RemoteStore(server.url, "tok", TEAM)
        for call in (lambda: store.get("abc"), lambda: store.put("abc", b"x"), lambda: store.has("abc")):
            with pytest.raises(StoreError, match="503"):
                call()


def test_slow_server_is_a_timeout():
    with FailingServer(200, delay=1.5) as server:
        with pytest.raises(StoreError, match="timed out"):
            RemoteStore(server.url, "tok", TEAM, timeout_seconds=0.3).get("abc")


# ---- the cache of one run ---------------------------------------------------------------------

def test_cache_local_then_remote(cache_server, tmp_path):
    warnings: list[str] = []
    remote = RemoteStore(cache_server.url, cache_server.token, TEAM)
    first = ArtifactCache(LocalStore(tmp_path / "machine-a"), remote, warnings.append)
    key, blob = new_key(), os.urandom(5000)
    assert first.fetch(key) is None
    first.store(key, blob, duration_ms=10)
    assert first.wait(timeout=10)
    assert first.fetch(key) == (blob, "local")

    second_local = LocalStore(tmp_path / "machine-b")
    second = ArtifactCache(second_local, RemoteStore(cache_server.url, cache_server.token, TEAM), warnings.append)
    assert second.fetch(key) == (blob, "remote")
    assert second_local.get(key) == blob
    assert second.fetch(key) == (blob, "local")
    assert (first.hits_local, first.misses, first.puts) == (1, 1, 1)
    assert (second.hits_remote, second.hits_local, second.misses) == (1, 1, 0)
    assert warnings == []


def test_cache_with_a_503_server_asks_it_once(tmp_path):
    warnings: list[str] = []
    with FailingServer(503) as server:
        cache = ArtifactCache(LocalStore(tmp_path / "local"), RemoteStore(server.url, "tok", TEAM), warnings.append)
        for _ in range(3):
            assert cache.fetch(new_key()) is None
        assert len(server.requests) == 1
    assert len(warnings) == 1 and "503" in warnings[0]


def test_background_upload_failure_warns_once(tmp_path):
    warnings: list[str] = []
    with FailingServer(503) as server:
        cache = ArtifactCache(None, RemoteStore(server.url, "tok", TEAM), warnings.append)
        cache.store(new_key(), b"a")
        assert cache.wait(timeout=5)
        cache.store(new_key(), b"b")  # the remote is skipped after its first failure
        assert cache.wait(timeout=5)
        assert len(server.requests) == 1
    assert len(warnings) == 1 and cache.errors["remote"] == 1


def test_local_failure_warns_once_and_the_remote_still_works(cache_server, tmp_path):
    warnings: list[str] = []
    (tmp_path / "a-file").write_text("x")
    cache = ArtifactCache(LocalStore(tmp_path / "a-file" / "cache"),
                          RemoteStore(cache_server.url, cache_server.token, TEAM), warnings.append)
    keys = [new_key() for _ in range(3)]
    for key in keys:
        cache.store(key, key.encode())
    assert cache.wait(timeout=10)
    assert [cache.fetch(key) for key in keys] == [(key.encode(), "remote") for key in keys]
    assert len(warnings) == 1 and "local cache" in warnings[0]
    assert cache.errors["local"] == 6 and cache.errors["remote"] == 0  # 3 puts + 3 copies of remote hits


def test_corrupted_artifact_on_the_server_is_caught_by_restore(cache_server, package, tmp_path):  # noqa: F811 -- the fixture
    root, files = package
    key = new_key()
    uploader = ArtifactCache(None, RemoteStore(cache_server.url, cache_server.token, TEAM), lambda m: None)
    uploader.store(key, pack(root, files, {"key": key}))
    assert uploader.wait(timeout=10)
    stored = cache_server.artifact_path(key, TEAM)
    stored.write_bytes(tampered(stored.read_bytes()))

    warnings: list[str] = []
    cache = ArtifactCache(LocalStore(tmp_path / "local"), RemoteStore(cache_server.url, cache_server.token, TEAM), warnings.append)
    blob, source = cache.fetch(key)
    assert source == "remote"
    target = tmp_path / "target"
    with pytest.raises(CorruptArtifact, match="digest mismatch"):
        restore(blob, target)
    assert list(target.iterdir()) == []
    cache.discard(key)
    assert not cache.local.has(key)
    assert warnings == []
