"""grokling's Qt-free core: store, engine, settings and (later) the learning stages.

Nothing in this package imports Qt; `tests/test_core_is_qt_free.py` enforces it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("grokling")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+checkout"
