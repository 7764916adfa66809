"""The names users import from the package root, as the docs show them."""

from __future__ import annotations

import subprocess
import sys

import package_builder_dagster as pb


def test_every_exported_name_resolves_and_a_translator_subclass_builds_definitions(tmp_path):
    assert all(getattr(pb, name) is not None for name in pb.__all__)
    from package_builder_dagster.examples import PackageSpec, generate

    root = generate(tmp_path / "ws", [PackageSpec("a", "core"), PackageSpec("b", "utility", ["a"])], kind="trivial")

    class Prefixed(pb.PackageTranslator):
        def get_asset_key(self, pkg):
            return super().get_asset_key(pkg).with_prefix("monorepo")

    defs = pb.build_definitions(pb.load_config(None, {}, str(root)), translator=Prefixed())
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"monorepo/ex/a", "monorepo/ex/b"} <= keys


def test_importing_the_package_imports_no_dagster():
    code = "import sys, package_builder_dagster; print('dagster' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
