"""``/metrics`` for Prometheus: HTTP traffic of this process, plus queue depth and image counts
read from Redis at scrape time (so every gateway process reports the same service totals)."""

from __future__ import annotations

import time

import redis
from flask import Blueprint, Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from rq import Queue
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

from contracts.jobs import BATCH_QUEUE, PRIORITY_QUEUE
from core.stats import OUTCOMES, SOURCES, read_stats

bp = Blueprint("metrics", __name__)


class RedisCollector:
    """Collects queue depths and the workers' image and digit counts from Redis."""

    def __init__(self, connection: redis.Redis):
        self.connection = connection

    def collect(self):
        up = GaugeMetricFamily("digits_redis_up", "1 when Redis answered this scrape")
        try:
            queues = self._queues()
            stats = read_stats(self.connection)
        except redis.RedisError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield queues
        images = CounterMetricFamily("digits_images", "Images read by the workers", labels=["source", "outcome"])
        for source in SOURCES:
            for outcome in OUTCOMES:
                images.add_metric([source, outcome], stats.get(f"{source}:{outcome}", 0))
        yield images
        digits = CounterMetricFamily("digits_predicted_digits", "Digits predicted, per class", labels=["digit"])
        for digit in range(10):
            digits.add_metric([str(digit)], stats.get(f"digit:{digit}", 0))
        yield digits

    def _queues(self) -> GaugeMetricFamily:
        depth = GaugeMetricFamily("digits_queue_jobs", "RQ jobs per queue and state", labels=["queue", "state"])
        for name in (PRIORITY_QUEUE, BATCH_QUEUE):
            queue = Queue(name, connection=self.connection)
            depth.add_metric([name, "queued"], queue.count)
            depth.add_metric([name, "started"], StartedJobRegistry(queue=queue).count)
            depth.add_metric([name, "scheduled"], ScheduledJobRegistry(queue=queue).count)
        return depth


def install(app: Flask, connection: redis.Redis) -> None:
    """Time every request and expose ``/metrics`` from a registry of this app's own."""
    registry = CollectorRegistry()
    requests = Counter("digits_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry)
    latency = Histogram("digits_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
                        registry=registry,
                        buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60))
    registry.register(RedisCollector(connection))
    app.extensions["digits.metrics"] = registry

    @app.before_request
    def _start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def _observe(response):
        # The route template, not the path, keeps the label set small (no batch ids).
        route = request.url_rule.rule if request.url_rule else "unmatched"
        requests.labels(request.method, route, str(response.status_code)).inc()
        if "started" in g:
            latency.labels(request.method, route).observe(time.perf_counter() - g.started)
        return response

    app.register_blueprint(bp)


@bp.get("/metrics")
def metrics():
    """Prometheus text exposition."""
    from flask import current_app

    registry = current_app.extensions["digits.metrics"]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
