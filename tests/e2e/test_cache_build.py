"""The artifact cache on real runs: a real turborepo-remote-cache server, fresh git clones, deleted
outputs, a corrupted artifact, a server that is down, a read-only remote, and the token kept secret."""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path

import pytest
from cacheserver import CacheServer, closed_port_url, server_entry
from conftest import git_commit_all, package_reports

from package_builder_dagster.examples import PackageSpec, generate

SPECS = [PackageSpec("core-a", "core"), PackageSpec("util-b", "utility", ["core-a"]),
         PackageSpec("svc-c", "service", ["util-b"]), PackageSpec("val-d", "validator")]
TEAM = "acme"
TOKEN_ENV = "PB_TEST_CACHE_TOKEN"
# Each build script also appends the package's name to $BUILD_RECORD, a file outside the repository.
RECORD = "const fs = require('fs'); fs.appendFileSync(process.env.BUILD_RECORD, require('./package.json').name + '\\n');\n"


@pytest.fixture(scope="module")
def server(toolchain, tmp_path_factory):
    if not server_entry(toolchain).exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=toolchain, check=True)
    with CacheServer(toolchain, tmp_path_factory.mktemp("remote") / "storage", secrets.token_hex(16)) as srv:
        yield srv


def workspace(tmp_path: Path, remote: dict) -> tuple[Path, Path]:
    """A committed trivial workspace whose config (committed too) points at `remote`; (root, record file)."""
    root = generate(tmp_path / "ws", SPECS, kind="trivial")
    for manifest_path in root.glob("packages/*/*/package.json"):
        (manifest_path.parent / "record.js").write_text(RECORD)
        manifest = json.loads(manifest_path.read_text())
        manifest["scripts"]["build"] += " && node record.js"
        manifest_path.write_text(json.dumps(manifest, indent=2))
    configs = root / "production" / "configs"
    configs.mkdir(parents=True)
    (configs / "build-env.json").write_text(json.dumps({"cache": {"remote": {"team": TEAM, "tokenEnv": TOKEN_ENV, **remote}}}))
    (root / ".gitignore").write_text((root / ".gitignore").read_text().replace("production/\n", "production/*\n!production/configs/\n"))
    git_commit_all(root)
    return root, tmp_path / "built.txt"


def build(cli, root: Path, record: Path, cache_home: Path, token: str, *flags: str):
    env = {"BUILD_RECORD": str(record), "XDG_CACHE_HOME": str(cache_home), TOKEN_ENV: token}
    res = cli("build", "--workspace", str(root), *flags, env=env)
    built = record.read_text().split() if record.exists() else []
    record.unlink(missing_ok=True)
    return res, built


def clone(root: Path, where: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(root), str(where)], check=True)
    return where


def test_fresh_clone_restores_from_the_remote_and_deleted_outputs_come_back(tmp_path, cli, server):
    root, record = workspace(tmp_path, {"url": server.url})
    res, built = build(cli, root, record, tmp_path / "cache-1", server.token)
    assert res.code == 0, res.output
    assert sorted(built) == ["@ex/core-a", "@ex/svc-c", "@ex/util-b", "@ex/val-d"]
    assert "4 miss(es)" in res.stdout

    # A fresh clone on "another machine": empty local store, new Dagster instance, no dist/.
    copy = clone(root, tmp_path / "clone")
    assert not list(copy.glob("packages/*/*/dist"))
    res, built = build(cli, copy, record, tmp_path / "cache-2", server.token)
    assert res.code == 0, res.output
    assert built == []  # no build script ran
    assert "cache: 4 hit(s) (0 local, 4 remote)" in res.stdout
    for name in ("core/core-a", "utilities/util-b", "services/svc-c", "validators/val-d"):
        assert (copy / "packages" / name / "dist" / "index.js").read_text() == "module.exports = 1;\n"
    reports = package_reports(copy)
    assert all(r["cache"]["hit"] and r["cache"]["restoredFrom"] == "remote" for r in reports.values())
    summary = json.loads(next((copy / "production" / "reports").glob("*/suite-summary.json")).read_text())
    assert summary["cache"]["hitsRemote"] == 4
    assert "restored" in next((copy / "production" / "reports").glob("*/timeline.html")).read_text()

    # Outputs deleted (git clean, a branch switch): --stale sees it and restores from the local store.
    for dist in copy.glob("packages/*/*/dist"):
        subprocess.run(["rm", "-rf", str(dist)], check=True)
    res, built = build(cli, copy, record, tmp_path / "cache-2", server.token, "--stale")
    assert res.code == 0 and "everything is up to date" not in res.stdout, res.output
    assert built == [] and "4 hit(s) (4 local, 0 remote)" in res.stdout
    assert len(list(copy.glob("packages/*/*/dist/index.js"))) == 4
    res, built = build(cli, copy, record, tmp_path / "cache-2", server.token, "--stale")
    assert "everything is up to date" in res.stdout and built == []

    # explain: the key's inputs, and which changed since the last materialization.
    (copy / "packages/core/core-a/index.js").write_text("module.exports = 2;\n")
    res = cli("explain", "@ex/util-b", "--workspace", str(copy), "--json")
    explained = json.loads(res.stdout)
    assert explained["inputs"]["dep:@ex/core-a"] and any(line.startswith("dep:@ex/core-a:") for line in explained["changed"])

    # The token is in no file any run wrote: workspaces, Dagster instances, reports, logs, caches.
    for folder in (root, copy, tmp_path / "cache-1", tmp_path / "cache-2"):
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                assert server.token.encode() not in path.read_bytes(), path


def test_corrupt_artifact_is_rebuilt(tmp_path, cli, server):
    root, record = workspace(tmp_path, {"url": server.url})
    (root / "packages/validators/val-d/index.js").write_text("module.exports = 'corrupt-test';\n")
    git_commit_all(root, "unique sources for this test")
    res, _ = build(cli, root, record, tmp_path / "cache-1", server.token)
    assert res.code == 0, res.output
    key = package_reports(root)["@ex/val-d"]["cache"]["key"]
    artifact = server.artifact_path(key, TEAM)
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle of the gzip stream
    artifact.write_bytes(bytes(data))
    res, built = build(cli, clone(root, tmp_path / "clone"), record, tmp_path / "cache-2", server.token)
    assert res.code == 0, res.output
    assert built == ["@ex/val-d"] and "cached artifact discarded" in res.stdout


def test_a_server_that_is_down_gives_one_warning(tmp_path, cli):
    root, record = workspace(tmp_path, {"url": closed_port_url(), "timeoutSeconds": 2})
    res, built = build(cli, root, record, tmp_path / "cache", "some-token")
    assert res.code == 0, res.output
    assert len(built) == 4
    assert res.stdout.count("remote cache") == 1, res.stdout


def test_a_read_only_remote_is_never_written(tmp_path, cli, toolchain):
    with CacheServer(toolchain, tmp_path / "storage", secrets.token_hex(16)) as srv:
        root, record = workspace(tmp_path, {"url": srv.url, "readOnly": True})
        res, built = build(cli, root, record, tmp_path / "cache", srv.token)
        assert res.code == 0 and len(built) == 4, res.output
        assert not [p for p in (tmp_path / "storage").rglob("*") if p.is_file()]
