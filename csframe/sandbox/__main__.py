"""``python -m csframe.sandbox CONFIG_JSON``: the child process of ``running(process=True)``.

For interactive use prefer ``csframe sandbox serve``.
"""

from __future__ import annotations

import sys

from csframe.sandbox.server import child_main

if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
