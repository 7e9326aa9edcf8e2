"""digits: reads handwritten digits from scans. This package is the user-facing top: the
``digits`` command (:mod:`digits.cli`), the ``digits up`` launcher (:mod:`digits.stack`),
``digits submit`` (:mod:`digits.submit`), the gateway's HTTP client and process helpers.
Nothing below it imports it."""

__version__ = "0.1.0"
