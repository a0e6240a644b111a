"""`python -m csframe ...` is the `csframe` command."""

from csframe.cli import main

raise SystemExit(main())
