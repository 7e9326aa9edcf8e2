"""The contracts between digits' services: one owner for every name two services must agree on.

The ground floor of the project: pure Python, importing nothing of the project's and no
third-party package, so that every service (and the command line on top) can import it.

* :mod:`contracts.jobs`: queue names, the RQ job functions and their ids.
* :mod:`contracts.rows`: the result row of one image (and its error row), as typed dicts.
* :mod:`contracts.batches`: a batch's statuses.
* :mod:`contracts.errors`: every error code with its HTTP status, and the base error class.
* :mod:`contracts.models`: model signatures, the version-folder rule, the AVAILABLE check.
* :mod:`contracts.uploads`: which bytes are images, and which archive paths are refused.
"""
