"""What real monorepos do that generated ones did not: packages without a coverage provider, test
runners that reject this tool's flags, undeclared workspace imports, linters other than ESLint."""

from __future__ import annotations


def test_the_telling_line_is_never_the_package_managers_own():
    from package_builder_dagster.execution.fix_agents import plain_eslint
    from package_builder_dagster.execution.tool_output import first_error_line

    pnpm = ("> valibot@1.0.0 lint /w/library\n> deno check ./src && eslint src\n\nsrc/a.ts:1:1 Error: bad thing\n"
            " ELIFECYCLE  Command failed with exit code 1.\n")
    assert first_error_line(pnpm) == "src/a.ts:1:1 Error: bad thing"
    assert first_error_line("npm error Lifecycle script `lint` failed with error:\nnpm error code 1\n") .startswith("npm error")
    assert plain_eslint("eslint src --max-warnings 0") and plain_eslint("npx eslint .")
    assert not plain_eslint("deno check ./src && eslint src") and not plain_eslint("tsc --noEmit; eslint .")
