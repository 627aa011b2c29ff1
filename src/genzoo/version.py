"""genzoo's version, in a module of its own so that any layer may read it without importing the
package's public API (`genzoo/__init__.py`), which sits above them all."""

__version__ = "0.1.0"
