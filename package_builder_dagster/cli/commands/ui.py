"""`package-builder ui`: the Dagster UI (`dagster dev`) over this workspace's instance."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import click

from package_builder_dagster.cli.options import ConfigFlags, export_env, workspace_options
from package_builder_dagster.errors import UsageError

WORKSPACE_YAML = (
    "load_from:\n  - python_module:\n      module_name: package_builder_dagster.orchestration.definitions\n"
    "      attribute: defs\n      location_name: package-builder\n"  # the location CLI runs record
)


@click.command("ui", help="the Dagster UI over this workspace's instance")
@workspace_options(plan=False)
@click.option("--port", type=int, default=3000, show_default=True, metavar="PORT", help="port on 127.0.0.1")
def ui_command(port: int, **flags: Any) -> int:
    from package_builder_dagster.cli.ui_process import port_in_use, run_until_signalled
    from package_builder_dagster.orchestration.definitions import discover_for
    from package_builder_dagster.orchestration.instance import prepare_home

    config_flags = ConfigFlags(**flags)
    config = config_flags.load()
    discover_for(config)  # bad input fails here, with exit 2, not inside the UI
    if port_in_use("127.0.0.1", port):  # else a second daemon would run on the instance, with no UI
        raise UsageError(f"port {port} on 127.0.0.1 is in use (another `package-builder ui`?); choose one with --port")
    home = prepare_home(config)
    export_env(config_flags, config)
    workspace = home / "workspace.yaml"
    workspace.write_text(WORKSPACE_YAML)
    dagster = shutil.which("dagster", path=str(Path(sys.executable).parent)) or shutil.which("dagster")
    if not dagster:
        raise UsageError("missing tool: dagster (pip install package-builder-dagster)")
    print(f"Dagster UI on http://127.0.0.1:{port} (instance {home}); Ctrl-C stops it", file=sys.stderr)
    return run_until_signalled([dagster, "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)])
