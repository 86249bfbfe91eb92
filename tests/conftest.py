"""refattn's own suite runs under refattn's pytest plugin (refattn/pytest_plugin.py).

The plugin gives the ``xp`` fixture, the ``--backend`` option and the
hypothesis profiles ``dev``, ``ci`` and ``stress``; installing refattn
registers it (a ``pytest11`` entry point). Listing it here as well keeps the
suite runnable where that entry point is not loaded (plugin autoload
disabled, or an environment where refattn is importable but not installed);
pytest registers a plugin once, under its module name, however often it is
named. Nothing here is specific to this suite.
"""

pytest_plugins = ["refattn.pytest_plugin"]
