"""The `grokling` command: no arguments opens the window, anything else is the CLI.

Qt is imported only when the window opens, so the CLI starts fast and works without a display.
"""

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        from learner.cli import main as cli_main

        return cli_main(argv)
    from app.main import run

    return run()


if __name__ == "__main__":
    sys.exit(main())
