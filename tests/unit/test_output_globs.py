"""Declared output globs (`packageBuilder.outputs`, turbo.json `outputs`) find files inside the package only."""

from __future__ import annotations

from package_builder_dagster.cache.outputs import glob_outputs


def test_output_globs_match_inside_the_package_and_never_outside(tmp_path):
    package = tmp_path / "packages" / "a"
    (package / "dist" / "sub").mkdir(parents=True)
    (package / "dist" / "index.js").write_text("x")
    (package / "dist" / "sub" / "b.js").write_text("y")
    (package / "dist" / "b.map").write_text("m")
    (tmp_path / "secret.txt").write_text("outside")
    found = glob_outputs(package, ["dist/**", "!dist/*.map", "../../*.txt", str(tmp_path / "*.txt"), "./dist/index.js"])
    assert found == ["dist/index.js", "dist/sub/b.js"]
