"""Gate checkpoint kiosk: signed passes, access rules and a tamper-evident event log.

The domain lives here (``kiosk``); the Flask app in ``web`` and device drivers in
``hardware``. Nothing in this package opens a device or a database at import time.
"""

__version__ = "0.1.0"
