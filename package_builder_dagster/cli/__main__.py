"""`python -m package_builder_dagster.cli`: the same as `package-builder`."""

import sys

from package_builder_dagster.cli.main import main

sys.exit(main())
