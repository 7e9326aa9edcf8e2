"""Runtime pieces the services share: settings, batch state in Redis, statistics, the model
server's status, the CPU's features.

Above the contracts and beside the scan library; below every service. Nothing here starts a
connection at import: callers pass their Redis connection in.
"""
