"""refattn's own suite runs under refattn's pytest plugin (refattn/pytest_plugin.py).

The plugin gives the ``xp`` fixture, the ``--backend`` option and the
hypothesis profiles ``dev``, ``ci`` and ``stress``; installing refattn
registers it (a ``pytest11`` entry point). Listing it here as well keeps the
suite runnable where that entry point is not loaded (plugin autoload
disabled, or an environment where refattn is importable but not installed);
pytest registers a plugin once, under its module name, however often it is
named.

The suite registers its strict CuPy stand-in (``tests/cupy_standin.py``) with
the plugin, so that every test taking ``xp`` also runs on it, as
``cupy-standin``; the plugin's ``standin`` fixture installs it for a test that
wants it alone.
"""

from cupy_standin import installed_modules

from refattn.pytest_plugin import register_stand_in

pytest_plugins = ["refattn.pytest_plugin"]

register_stand_in(installed_modules())
