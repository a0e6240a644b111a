"""``csframe cache info|clear``: where the HTTP cache lives, what is in it, and emptying it.

Example::

    $ csframe cache info
    /home/me/.cache/csframe/csframe_demo-1a2b3c4d5e6f.sqlite
        server  http://127.0.0.1:8765/v3   user  csframe_demo
        size    1.2 MB   entries  412
    $ csframe cache clear
    removed 3 files from /home/me/.cache/csframe
"""

from __future__ import annotations

import argparse

from csframe.config import cache_dir
from csframe.httpcache import cache_files, describe, remove_files


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``cache info`` and ``cache clear`` to the ``csframe`` command."""
    cache = sub.add_parser("cache", help="inspect or clear the HTTP cache")
    actions = cache.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    for name, func, text in (
        ("info", _info, "location, size and entries of each cache file"),
        ("clear", _clear, "delete every cache file (and files moved aside)"),
    ):
        p = actions.add_parser(name, help=text)
        p.add_argument(
            "--cache-dir",
            default=None,
            help="cache directory (default: CSFRAME_CACHE_DIR or the user cache directory)",
        )
        p.set_defaults(func=func)


def _info(args: argparse.Namespace) -> int:
    directory = cache_dir(args.cache_dir)
    files = cache_files(directory)
    print(f"cache directory {directory} ({len(files)} file{'s' if len(files) != 1 else ''})")
    for path in files:
        info = describe(path)
        entries = info["entries"] if info["entries"] is not None else "?"
        print(info["path"])
        print(f"    server  {info['root'] or '?'}   user  {info['username'] or '?'}")
        print(f"    size    {info['size'] / 1e6:.1f} MB   entries  {entries}")
        if "error" in info:
            print(f"    unreadable: {info['error']}")
    aside = sorted(directory.glob("*.sqlite.corrupt-*"))
    if aside:
        print(f"{len(aside)} file(s) moved aside as unusable; 'csframe cache clear' removes them")
    return 0


def _clear(args: argparse.Namespace) -> int:
    directory = cache_dir(args.cache_dir)
    removed = remove_files(directory)
    print(f"removed {len(removed)} file{'s' if len(removed) != 1 else ''} from {directory}")
    return 0
