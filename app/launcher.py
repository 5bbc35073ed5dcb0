"""The `grokling` command: no arguments opens the window, anything else is the CLI.

Qt is imported only when the window opens, so the CLI starts fast and works without a display.
"""

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0].startswith("--run-module="):  # a bundle's stand-in for `python -m` (learner.paths)
        import runpy

        module = argv[0].partition("=")[2]
        sys.argv = [module, *argv[1:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    if argv:
        from learner.cli import main as cli_main

        return cli_main(argv)
    from app.main import run

    return run()


if __name__ == "__main__":
    sys.exit(main())
