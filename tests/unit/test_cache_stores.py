"""The build-output cache's storage layer: real files, a real turborepo-remote-cache server, real failures."""

from __future__ import annotations

import gzip
import io
import os
import secrets
import stat
import tarfile
import threading
import time
from pathlib import Path

import pytest
from cacheserver import closed_port_url

from package_builder_dagster.cache.artifact import CorruptArtifact, outputs_digest, pack, read_manifest, restore
from package_builder_dagster.cache.stores import ArtifactCache, LocalStore, RemoteStore, default_local_dir
from package_builder_dagster.errors import StoreError

TEAM = "pb-tests"


# ---- helpers ----------------------------------------------------------------------------------

def write_outputs(root: Path) -> list[str]:
    """A package's build outputs: nested folders, an executable, a tsbuildinfo, a symlink."""
    files = {
        "dist/index.js": "export const answer = 42;\n",
        "dist/index.d.ts": "export declare const answer = 42;\n",
        "dist/nested/deep/util.js": "export function util() { return 1; }\n",
        "bin/cli.js": "#!/usr/bin/env node\nconsole.log('hi');\n",
        "tsconfig.tsbuildinfo": '{"program":{"fileNames":["src/index.ts"]},"version":"5.9.3"}',
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "bin/cli.js").chmod(0o755)
    (root / "dist/main.js").symlink_to("index.js")
    return [*files, "dist/main.js"]


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under `root` with its kind, content or target, and mode (no mtimes)."""
    state = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            state[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            state[rel] = ("dir",)
        else:
            state[rel] = ("file", path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
    return state


def rewrite_tar(blob: bytes, change) -> bytes:
    """`blob` re-packed (valid gzip and tar) after `change(name, data) -> data` on each regular member."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as src, \
            tarfile.open(fileobj=out, mode="w:gz") as dst:
        for member in src:
            data = src.extractfile(member).read() if member.isreg() else None
            if data is not None:
                data = change(member.name, data)
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def tampered(blob: bytes) -> bytes:
    """`blob` with one output file's content changed but its manifest (and digest) kept."""
    return rewrite_tar(blob, lambda name, data: data.replace(b"42", b"43") if name == "outputs/dist/index.js" else data)


def crafted(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    """A tar.gz with a valid-looking manifest and the given members."""
    out = io.BytesIO()
    manifest = b'{"files": ["x"], "digest": "00"}'
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def new_key() -> str:
    return secrets.token_hex(16)


# ---- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def package(tmp_path: Path) -> tuple[Path, list[str]]:
    root = tmp_path / "pkg"
    root.mkdir()
    return root, write_outputs(root)


# ---- artifacts --------------------------------------------------------------------------------

def test_identical_rebuild_gives_the_same_digest_and_bytes(package):
    root, files = package
    digest, blob = outputs_digest(root, files), pack(root, files, {"key": "k"})
    for rel in files:  # "rebuild": same contents, new mtimes
        if not (root / rel).is_symlink():
            (root / rel).write_bytes((root / rel).read_bytes())
            os.utime(root / rel, (1_000_000, 1_000_000))
    assert outputs_digest(root, list(reversed(files))) == digest
    assert pack(root, files, {"key": "k"}) == blob
    (root / "dist/index.js").write_text("export const answer = 41;\n")
    assert outputs_digest(root, files) != digest


def test_a_changed_byte_anywhere_makes_the_artifact_unreadable(package, tmp_path):
    """gzip's CRC covers the whole stream: a flipped byte in the tar's trailing padding, which reading
    the members never reaches, is caught too (it once slipped through: a corrupt artifact restored)."""
    root, files = package
    blob = pack(root, files, {"package": "@ex/a", "key": "abc"})
    for i, position in enumerate(range(10, len(blob) - 8, max(1, len(blob) // 60))):  # the header's first bytes aside
        corrupt = bytearray(blob)
        corrupt[position] ^= 0xFF
        with pytest.raises(CorruptArtifact):
            read_manifest(bytes(corrupt))
        with pytest.raises(CorruptArtifact):
            restore(bytes(corrupt), tmp_path / f"restored-{i}")


def test_pack_restore_round_trip(package, tmp_path):
    root, files = package
    blob = pack(root, files, {"package": "@ex/a", "key": "abc"})
    manifest = read_manifest(blob)
    assert manifest["package"] == "@ex/a" and manifest["files"] == sorted(files)
    assert manifest["digest"] == outputs_digest(root, files)

    target = tmp_path / "fresh"
    (target / "dist").mkdir(parents=True)
    (target / "dist/index.js").write_text("stale\n")
    (target / "src.ts").write_text("kept\n")
    artifact = restore(blob, target)
    assert artifact.digest == manifest["digest"] and artifact.files == sorted(files)
    assert artifact.manifest["package"] == "@ex/a"
    assert {k: v for k, v in snapshot(target).items() if k != "src.ts"} == snapshot(root)
    assert (target / "src.ts").read_text() == "kept\n"
    assert os.access(target / "bin/cli.js", os.X_OK)
    assert not os.access(target / "dist/index.js", os.X_OK)
    assert os.readlink(target / "dist/main.js") == "index.js"
    assert (target / "tsconfig.tsbuildinfo").read_text().startswith('{"program"')
    assert not [p for p in target.iterdir() if p.name.startswith(".package-builder-restore-")]


@pytest.mark.parametrize("damage", ["truncated", "tampered", "garbage"])
def test_corrupt_blob_leaves_the_package_untouched(package, tmp_path, damage):
    root, files = package
    blob = pack(root, files, {})
    bad = {"truncated": blob[: len(blob) // 2], "tampered": tampered(blob), "garbage": b"not a tarball"}[damage]
    target = tmp_path / "target"
    target.mkdir()
    (target / "dist").mkdir()
    (target / "dist/index.js").write_text("old\n")
    before = snapshot(target)
    with pytest.raises(CorruptArtifact) as info:
        restore(bad, target)
    if damage == "tampered":
        assert "digest mismatch" in str(info.value)
    assert snapshot(target) == before


@pytest.mark.parametrize("member", ["dotdot", "absolute", "device", "escaping-link", "hardlink", "link-chain", "outside-prefix"])
def test_unsafe_members_are_rejected(tmp_path, member):
    def info(name, kind=tarfile.REGTYPE, linkname=""):
        item = tarfile.TarInfo(name)
        item.type, item.linkname = kind, linkname
        return item

    members = {
        "dotdot": [(info("outputs/../../evil.txt"), b"x")],
        "absolute": [(info("/tmp/evil.txt"), b"x")],
        "device": [(info("outputs/null", tarfile.CHRTYPE), None)],
        "escaping-link": [(info("outputs/dist/up", tarfile.SYMTYPE, "../../etc"), None)],
        "hardlink": [(info("outputs/passwd", tarfile.LNKTYPE, "/etc/passwd"), None)],
        "link-chain": [(info("outputs/here", tarfile.SYMTYPE, "."), None),
                       (info("outputs/up", tarfile.SYMTYPE, "here/.."), None)],
        "outside-prefix": [(info("evil.txt"), b"x")],
    }[member]
    target = tmp_path / "pkg"
    target.mkdir()
    with pytest.raises(CorruptArtifact, match="unsafe|unexpected"):
        restore(crafted(members), target)
    assert list(target.iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("member", ["absolute-link", "fifo", "relinked-chain"])
def test_members_the_data_filter_or_the_final_link_check_refuse(tmp_path, member):
    """tarfile's `data` filter refuses a link to an absolute path and a FIFO; a link that stayed inside when
    it was made but that a later member re-points out of the package is caught after unpacking."""
    def info(name, kind=tarfile.REGTYPE, linkname=""):
        item = tarfile.TarInfo(name)
        item.type, item.linkname = kind, linkname
        return item

    members = {
        "absolute-link": [(info("outputs/abs", tarfile.SYMTYPE, "/etc/passwd"), None)],
        "fifo": [(info("outputs/pipe", tarfile.FIFOTYPE), None)],
        "relinked-chain": [(info("outputs/up", tarfile.SYMTYPE, "here/.."), None),  # `here` does not exist yet: inside
                           (info("outputs/here", tarfile.SYMTYPE, "."), None)],      # now `up` is the package's parent
    }[member]
    target = tmp_path / "pkg"
    target.mkdir()
    with pytest.raises(CorruptArtifact, match="unsafe member: .*(escapes the package|not a regular file)"):
        restore(crafted(members), target)
    assert list(target.iterdir()) == []


def test_restore_drops_setuid_bits_and_keeps_the_restore_time(tmp_path):
    """A member with setuid/setgid bits and an old mtime restores as a plain executable written now."""
    source = tmp_path / "src"
    (source / "bin").mkdir(parents=True)
    (source / "bin/tool").write_text("#!/bin/sh\n")
    blob = pack(source, ["bin/tool"], {})
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as original, tarfile.open(fileobj=out, mode="w:gz") as tar:
        for member in original:
            data = original.extractfile(member).read() if member.isreg() else None
            if member.name == "outputs/bin/tool":
                member.mode, member.mtime = 0o6777, 1
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
    started = time.time()
    restore(out.getvalue(), tmp_path / "pkg")
    restored = (tmp_path / "pkg/bin/tool").stat()
    assert stat.S_IMODE(restored.st_mode) == 0o755
    assert restored.st_mtime >= started - 1


def test_pack_refuses_links_out_of_the_package(tmp_path):
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "out").symlink_to("../elsewhere")
    with pytest.raises(ValueError, match="outside"):
        pack(root, ["out"], {})


def test_pack_output_is_plain_gzip_with_no_timestamp(package):
    root, files = package
    blob = pack(root, files, {})
    assert blob[:2] == b"\x1f\x8b" and blob[4:8] == b"\0\0\0\0"  # gzip mtime 0
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tar:
        members = tar.getmembers()
    assert members[0].name == "manifest.json"
    assert [m.name for m in members[1:]] == sorted(f"outputs/{f}" for f in files)
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in members)


# ---- local store ------------------------------------------------------------------------------

def test_local_store_basics(tmp_path):
    store = LocalStore(tmp_path / "cache")
    assert store.get("abc") is None and not store.has("abc")
    store.put("abc", b"blob")
    assert store.get("abc") == b"blob" and store.has("abc")
    assert store.stats() == {"entries": 1, "bytes": 4, "directory": str(tmp_path / "cache"), "max_bytes": 10240 * 1024 * 1024}
    store.delete("abc")
    store.delete("abc")
    assert store.get("abc") is None
    for bad in ("", "../x", "a/b", "x" * 129, "a.b", "a b"):
        with pytest.raises(ValueError):
            store.get(bad)


def test_local_store_evicts_least_recently_used(tmp_path):
    store = LocalStore(tmp_path / "cache", max_size_mb=1)
    chunk = 400 * 1024
    for key in ("a", "b"):
        store.put(key, key.encode() * chunk)
        time.sleep(0.02)
    assert store.get("a") is not None  # a is now the most recently used
    time.sleep(0.02)
    store.put("c", b"c" * chunk)
    assert store.has("a") and store.has("c") and not store.has("b")
    store.put("huge", b"h" * (3 * 1024 * 1024))  # bigger than the cap on its own: kept, all else goes
    assert store.has("huge") and store.stats()["entries"] == 1


def test_local_store_prune(tmp_path):
    store = LocalStore(tmp_path / "cache")
    for key in ("old", "new"):
        store.put(key, b"x" * 1000)
    os.utime(store.directory / "old.tar.gz", (time.time() - 10 * 86400,) * 2)
    assert store.prune(older_than_days=7) == {"removed": 1, "bytes": 1000}
    assert store.has("new") and not store.has("old")
    assert store.prune(max_size_mb=0) == {"removed": 1, "bytes": 1000}
    assert store.stats()["entries"] == 0


def test_two_writers_of_one_key_both_succeed(tmp_path):
    store = LocalStore(tmp_path / "cache")
    barrier, errors = threading.Barrier(2), []
    blobs = [b"1" * 2_000_000, b"2" * 2_000_000]

    def writer(blob: bytes) -> None:
        try:
            barrier.wait()
            for _ in range(5):
                store.put("same", blob)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(b,)) for b in blobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.get("same") in blobs
    assert [p.name for p in store.directory.iterdir() if p.name.endswith(".tmp")] == []


def test_unwritable_directory_is_a_store_error(tmp_path):
    (tmp_path / "a-file").write_text("x")
    store = LocalStore(tmp_path / "a-file" / "cache")  # a parent that is a file: ENOTDIR even for root
    with pytest.raises(StoreError, match="not writable"):
        store.put("abc", b"blob")
    assert store.get("abc") is None


def test_default_local_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("PACKAGE_BUILDER_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_local_dir() == tmp_path / "xdg" / "package-builder" / "artifacts"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_local_dir() == Path.home() / ".cache" / "package-builder" / "artifacts"
    monkeypatch.setenv("PACKAGE_BUILDER_CACHE_DIR", str(tmp_path / "explicit"))
    assert default_local_dir() == tmp_path / "explicit"


# ---- remote store (real turborepo-remote-cache) -----------------------------------------------


# ---- the cache of one run ---------------------------------------------------------------------


def test_cache_with_the_server_down_warns_once_and_skips_the_remote(tmp_path):
    warnings: list[str] = []
    url = closed_port_url()
    token = "secret-" + secrets.token_hex(8)
    remote = RemoteStore(url, token, TEAM, timeout_seconds=2)
    calls = []
    real_get = remote.get
    remote.get = lambda key: calls.append(key) or real_get(key)
    cache = ArtifactCache(LocalStore(tmp_path / "local"), remote, warnings.append)
    for _ in range(4):
        assert cache.fetch(new_key()) is None
        cache.store(new_key(), b"blob")
    assert cache.wait(timeout=5)
    assert len(warnings) == 1 and url in warnings[0] and "unreachable" in warnings[0]
    assert "building without it" in warnings[0] and token not in warnings[0]
    assert len(calls) == 1 and cache.errors["remote"] == 1
    assert cache.misses == 4 and cache.puts == 4 and cache.local.stats()["entries"] == 4


def test_a_restore_that_cannot_finish_is_a_miss_with_a_warning(tmp_path: Path) -> None:
    """A file where the artifact needs a folder (`dist` is a file here): the lookup is a miss, not a
    failed package, and says why."""
    from package_builder_dagster.cache.package_cache import CacheInfo, PackageCache
    from package_builder_dagster.discovery.graph import Package

    built = tmp_path / "built"
    (built / "dist").mkdir(parents=True)
    (built / "dist" / "index.js").write_text("module.exports = 1;\n")
    blob = pack(built, ["dist/index.js"], {"record": {}, "logs": {}})
    warnings: list[str] = []
    store = LocalStore(tmp_path / "store")
    store.put("k1", blob)
    target = tmp_path / "pkg"
    target.mkdir()
    (target / "dist").write_text("a file, not a folder")
    cache = PackageCache(ArtifactCache(store, None, warnings.append), tmp_path / "logs", warnings.append)
    pkg = Package(name="@x/p", version="1.0.0", path="p", dir=target, dependencies=[], scripts={})
    info = CacheInfo("k1")
    assert cache.lookup(pkg, info) is None
    assert not info.hit and "rebuilt" in (info.note or "") and len(warnings) == 1
    cache.wait()
