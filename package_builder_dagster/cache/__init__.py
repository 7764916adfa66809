"""A content-addressed cache of build outputs (like Turborepo's): artifacts, and a local and a remote store."""

from .artifact import Artifact, CorruptArtifact, outputs_digest, pack, read_manifest, restore
from .stores import ArtifactCache, LocalStore, RemoteStore, StoreError, default_local_dir

__all__ = [
    "Artifact", "ArtifactCache", "CorruptArtifact", "LocalStore", "RemoteStore", "StoreError",
    "default_local_dir", "outputs_digest", "pack", "read_manifest", "restore",
]
