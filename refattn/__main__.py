"""``python -m refattn`` is the ``refattn`` command."""

from .cli import main

raise SystemExit(main())
