"""Queue names shared by the gateway (which enqueues) and the worker (which listens)."""

# Single-image requests are listened to first, so they never wait behind batch chunks.
PRIORITY_QUEUE = "digits-priority"
BATCH_QUEUE = "digits-batches"
WORKER_QUEUES = (PRIORITY_QUEUE, BATCH_QUEUE)
