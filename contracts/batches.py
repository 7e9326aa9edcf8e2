"""A batch's life: the statuses the gateway reports and clients wait on."""

from __future__ import annotations

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
STATUSES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
# A batch in one of these states changes no more: every image has its row, or was cancelled.
FINISHED = (DONE, FAILED, CANCELLED)
# Images per state in a batch's counts; they add up to its total.
IMAGE_STATES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
