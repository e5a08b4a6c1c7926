"""The ``kiosk`` command line."""

from kiosk.cli.root import main

__all__ = ["main"]
