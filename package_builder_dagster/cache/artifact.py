"""Build-output artifacts: a content digest of a package's outputs, and a deterministic tarball of them.

An artifact is a gzip'd tar holding `manifest.json` (the caller's fields plus `files` and `digest`)
and the output files under `outputs/<relpath>`. Packing the same files twice gives the same bytes
(no mtimes, owners or umask in it), and restoring checks every file against the digest before
anything in the package folder is touched.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from package_builder_dagster.cache.digest import _normalized_files, outputs_digest  # noqa: F401 - outputs_digest is part of this module's API
from package_builder_dagster.errors import CorruptArtifact

MANIFEST_NAME = "manifest.json"
OUTPUTS_PREFIX = "outputs/"
RESTORE_PREFIX = ".package-builder-restore-"
_TAR_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError)



@dataclass
class Artifact:
    """A restored artifact: its manifest, the files it wrote (relative POSIX paths) and their digest."""

    manifest: dict
    files: list[str]
    digest: str


# ---- paths ------------------------------------------------------------------------------------

def _link_stays_inside(relpath: str, target: str) -> bool:
    """Whether symlink `relpath` -> `target` points inside the package folder (lexically)."""
    if not target or target.startswith("/") or "\\" in target or "\0" in target:
        return False
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(relpath), target))
    return resolved != ".." and not resolved.startswith("../") and not resolved.startswith("/")


def _resolves_inside(root: Path, path: Path) -> bool:
    """Whether `path`, with every symlink on the way followed, stays inside `root`."""
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(path)]) == real_root


# ---- digest -----------------------------------------------------------------------------------

# ---- pack -------------------------------------------------------------------------------------

def _tarinfo(name: str, kind: bytes, mode: int, size: int = 0, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname = kind, mode, size, linkname
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    return info


def pack(package_dir: Path, files: list[str], manifest: dict) -> bytes:
    """A deterministic tar.gz of `manifest.json` and the files under `outputs/` (symlinks kept)."""
    package_dir = Path(package_dir)
    rels = _normalized_files(files)
    for rel in rels:
        path = package_dir / rel
        if path.is_symlink() and not (_link_stays_inside(rel, os.readlink(path)) and _resolves_inside(package_dir, path)):
            raise ValueError(f"symlink {rel} -> {os.readlink(path)} points outside {package_dir}")
    full_manifest = {**manifest, "files": rels, "digest": outputs_digest(package_dir, rels)}
    manifest_bytes = json.dumps(full_manifest, sort_keys=True, indent=2).encode("utf-8")

    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.addfile(_tarinfo(MANIFEST_NAME, tarfile.REGTYPE, 0o644, len(manifest_bytes)), io.BytesIO(manifest_bytes))
            for rel in rels:
                path = package_dir / rel
                name = OUTPUTS_PREFIX + rel
                if path.is_symlink():
                    tar.addfile(_tarinfo(name, tarfile.SYMTYPE, 0o777, linkname=os.readlink(path)))
                    continue
                executable = bool(path.stat().st_mode & stat.S_IXUSR)
                with path.open("rb") as handle:
                    size = os.fstat(handle.fileno()).st_size
                    tar.addfile(_tarinfo(name, tarfile.REGTYPE, 0o755 if executable else 0o644, size), handle)
    return raw.getvalue()


# ---- read / restore ---------------------------------------------------------------------------

def _parse_manifest(data: bytes) -> dict:
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptArtifact(f"unreadable manifest.json: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("digest"), str) \
            or not isinstance(manifest.get("files"), list) or not all(isinstance(f, str) for f in manifest["files"]):
        raise CorruptArtifact("manifest.json lacks `files` or `digest`")
    return manifest


def _open(blob: bytes, **kwargs) -> tarfile.TarFile:
    """The artifact's tar, its whole gzip stream decompressed first: gzip's CRC and length are checked,
    so a changed byte anywhere (the tar's trailing padding included, which reading the members alone
    never reaches) makes it unreadable rather than silently restored."""
    return tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob)), mode="r:", **kwargs)


def read_manifest(blob: bytes) -> dict:
    """The manifest of an artifact (raises CorruptArtifact when it cannot be read)."""
    try:
        with _open(blob) as tar:
            for member in tar:
                if member.name == MANIFEST_NAME and member.isreg():
                    handle = tar.extractfile(member)
                    return _parse_manifest(handle.read() if handle else b"")
    except _TAR_ERRORS as exc:
        raise CorruptArtifact(f"unreadable artifact: {exc}") from None
    raise CorruptArtifact("artifact has no manifest.json")


def _output_filter(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """tarfile's `data` filter (no absolute paths or `..` out of `dest`, no links leading out of it, no
    device files, no setuid bits or owners), then: no hard links either, the modes `pack` gives
    (0o755 or 0o644) and the time of the restore."""
    member = tarfile.data_filter(member, dest)
    if member.islnk():
        raise tarfile.SpecialFileError(member)
    return member.replace(mode=(0o755 if member.mode & stat.S_IXUSR else 0o644) if member.isreg() else None,
                          mtime=None, deep=False)


def _refusal(exc: tarfile.FilterError) -> str:
    """Why the filter refused a member, without the temporary folder's path that tarfile puts in it."""
    member = exc.tarinfo
    if member.issym() and isinstance(exc, (tarfile.AbsoluteLinkError, tarfile.LinkOutsideDestinationError)):
        return f"symlink {member.name} -> {member.linkname!r} escapes the package"
    if isinstance(exc, (tarfile.AbsolutePathError, tarfile.OutsideDestinationError)):
        return f"unsafe path {member.name!r}"
    return f"{OUTPUTS_PREFIX + member.name!r} is not a regular file or symlink"


def _unpack(blob: bytes, outputs: Path) -> tuple[dict, list[str]]:
    """Unpack the artifact's outputs into `outputs`, checking every member; (manifest, files)."""
    manifest: dict | None = None
    files: list[str] = []
    try:
        with _open(blob, errorlevel=2) as tar:  # errorlevel 2: no error only printed
            for member in tar:
                if member.name == MANIFEST_NAME:
                    if manifest is not None or not member.isreg():
                        raise CorruptArtifact("duplicate or irregular manifest.json")
                    handle = tar.extractfile(member)
                    manifest = _parse_manifest(handle.read() if handle else b"")
                    continue
                if member.isdir() and member.name.rstrip("/") + "/" == OUTPUTS_PREFIX:
                    continue
                if not member.name.startswith(OUTPUTS_PREFIX):
                    raise CorruptArtifact(f"unexpected member {member.name!r}")
                rel = member.name[len(OUTPUTS_PREFIX):]
                target = outputs / rel
                if any(parent.is_symlink() for parent in target.parents if outputs in parent.parents):
                    raise CorruptArtifact(f"unsafe member: {member.name!r} lies under a symlink")
                if not member.isdir() and (target.exists() or target.is_symlink()):
                    raise CorruptArtifact(f"duplicate member {member.name!r}")
                tar.extract(member.replace(name=rel, deep=False), outputs, filter=_output_filter)
                if not member.isdir():
                    files.append(rel)
    except tarfile.FilterError as exc:
        raise CorruptArtifact(f"unsafe member: {_refusal(exc)}") from None
    except _TAR_ERRORS as exc:
        raise CorruptArtifact(f"unreadable artifact: {exc}") from None
    except (OSError, ValueError) as exc:  # e.g. a name too long for this filesystem, or with a NUL in it
        raise CorruptArtifact(f"cannot unpack artifact: {exc}") from None
    if manifest is None:
        raise CorruptArtifact("artifact has no manifest.json")
    for rel in files:  # the filter checks each link when it is made; a later member can still re-point one
        if (outputs / rel).is_symlink() and not _resolves_inside(outputs, outputs / rel):
            raise CorruptArtifact(f"unsafe member: symlink {rel} -> {os.readlink(outputs / rel)!r} escapes the package")
    return manifest, sorted(files)


def _check_destinations(package_dir: Path, files: list[str]) -> None:
    """Refuse restoring through an existing symlinked folder that leads out of the package."""
    root = package_dir.resolve()
    for rel in files:
        parent = (package_dir / rel).parent
        while not parent.exists() and parent != package_dir:
            parent = parent.parent
        resolved = parent.resolve()
        if resolved != root and root not in resolved.parents:
            raise CorruptArtifact(f"restoring {rel} would write outside {package_dir} (through a symlink)")


def restore(blob: bytes, package_dir: Path) -> Artifact:
    """Unpack and verify an artifact in a temporary folder, then move its files into `package_dir`."""
    package_dir = Path(package_dir)
    package_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=RESTORE_PREFIX, dir=package_dir))
    try:
        outputs = staging / "outputs"
        outputs.mkdir()
        manifest, files = _unpack(blob, outputs)
        try:
            listed = _normalized_files(manifest["files"])
        except ValueError as exc:
            raise CorruptArtifact(f"manifest lists an unsafe path: {exc}") from None
        if listed != files:
            raise CorruptArtifact("the artifact's files differ from its manifest")
        digest = outputs_digest(outputs, files)
        if digest != manifest["digest"]:
            raise CorruptArtifact(f"digest mismatch: manifest says {manifest['digest'][:12]}, contents give {digest[:12]}")
        _check_destinations(package_dir, files)
        for rel in files:
            dest = package_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)
            os.replace(outputs / rel, dest)
        return Artifact(manifest=manifest, files=files, digest=digest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
