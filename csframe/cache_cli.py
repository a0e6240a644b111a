"""``csframe cache info|clear``: where the caches live (HTTP responses, and closed history
windows in the frame cache), what is in them, and emptying them.

Example::

    $ csframe cache info
    /home/me/.cache/csframe/csframe_demo-1a2b3c4d5e6f.sqlite
        server  http://127.0.0.1:8765/v3   user  csframe_demo
        size    1.2 MB   entries  412
    /home/me/.cache/csframe/csframe_demo-1a2b3c4d5e6f.frames
        frame cache  12 windows   size  40.3 MB
    $ csframe cache clear
    removed 3 files and 1 frame cache from /home/me/.cache/csframe
"""

from __future__ import annotations

import argparse

from csframe import framecache
from csframe.config import cache_dir
from csframe.httpcache import cache_files, describe, remove_files


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``cache info`` and ``cache clear`` to the ``csframe`` command."""
    cache = sub.add_parser("cache", help="inspect or clear the HTTP cache and the frame cache")
    actions = cache.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    for name, func, text in (
        ("info", _info, "location, size and entries of each cache file and frame cache"),
        ("clear", _clear, "delete every cache file, frame cache and file moved aside"),
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
    for folder in framecache.cache_dirs(directory):
        frames = framecache.describe(folder)
        print(frames["path"])
        windows = frames["windows"]
        print(
            f"    frame cache  {windows} window{'s' if windows != 1 else ''}   "
            f"size  {frames['size'] / 1e6:.1f} MB"
        )
    aside = sorted(directory.glob("*.sqlite.corrupt-*"))
    if aside:
        print(f"{len(aside)} file(s) moved aside as unusable; 'csframe cache clear' removes them")
    return 0


def _clear(args: argparse.Namespace) -> int:
    directory = cache_dir(args.cache_dir)
    removed = remove_files(directory)
    folders = framecache.remove_dirs(directory)
    print(
        f"removed {len(removed)} file{'s' if len(removed) != 1 else ''} and "
        f"{len(folders)} frame cache{'s' if len(folders) != 1 else ''} from {directory}"
    )
    return 0
