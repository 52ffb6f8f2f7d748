"""`python -m ui.build_child [--quiet]`: build the index whose IndexSettings arrive as JSON on
stdin, then exit. The servers run their first build this way (ui.commands.build_in_child), so
the model and PyTorch the build loads leave with this process."""

from __future__ import annotations

import logging
import sys


def main(argv: list[str] | None = None) -> int:
    from index.errors import RagError
    from index.settings import IndexSettings
    from ui.commands import build_if_missing

    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["--quiet"]):
        print("usage: python -m ui.build_child [--quiet] < settings.json", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = IndexSettings.model_validate_json(sys.stdin.read())
        build_if_missing(settings, progress=not args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (RagError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
