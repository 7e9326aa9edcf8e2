"""Server-side batching on a real SavedModel signature."""

import threading

import numpy as np
import pytest
import tensorflow as tf

from serving.batcher import Batcher, BatchQueueFullError, BatchTooLargeError
from serving.config_file import BatchingConfig
from serving.model_store import load_servable


@pytest.fixture(scope="module")
def run(model_base):
    servable = load_servable(model_base / "digits" / "1", 1)
    fn = servable.signature("serving_default")
    return lambda feeds: {k: v.numpy() for k, v in fn(images=tf.constant(feeds["images"])).items()}


def test_concurrent_requests_are_merged_and_answered_correctly(run, mnist):
    batcher = Batcher(BatchingConfig(max_batch_size=64, batch_timeout_micros=200_000, num_batch_threads=1))
    results = {}

    def call(i):
        results[i] = batcher.submit("k", run, {"images": mnist.x_test[i : i + 1 + i % 3]})

    threads = [threading.Thread(target=call, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.stop()
    assert batcher.requests_run == 12
    assert batcher.batches_run < 6
    for i, out in results.items():
        alone = run({"images": mnist.x_test[i : i + 1 + i % 3]})
        assert out["probabilities"].shape == (1 + i % 3, 10)
        np.testing.assert_allclose(out["probabilities"], alone["probabilities"], atol=1e-5)
        np.testing.assert_array_equal(out["classes"], alone["classes"])


def test_a_lone_request_waits_at_most_the_timeout(run, mnist):
    batcher = Batcher(BatchingConfig(max_batch_size=64, batch_timeout_micros=1000, num_batch_threads=1))
    out = batcher.submit("k", run, {"images": mnist.x_test[:1]})
    batcher.stop()
    assert out["classes"].shape == (1,)


def test_errors_reach_every_caller_in_the_batch(mnist):
    batcher = Batcher(BatchingConfig(max_batch_size=8, batch_timeout_micros=1000, num_batch_threads=1))

    def broken(feeds):
        raise ValueError("model exploded")

    with pytest.raises(ValueError, match="model exploded"):
        batcher.submit("k", broken, {"images": mnist.x_test[:2]})
    batcher.stop()


def test_full_queue_is_refused():
    batcher = Batcher(BatchingConfig(max_batch_size=4, batch_timeout_micros=1000, num_batch_threads=1,
                                     max_enqueued_batches=1))
    started, release = threading.Event(), threading.Event()

    def slow(feeds):
        started.set()
        release.wait(10)
        return {"y": feeds["x"]}

    def submit(rows):
        batcher.submit("k", slow, {"x": np.zeros((rows, 1))})

    busy = threading.Thread(target=submit, args=(3,))  # occupies the only batch thread
    busy.start()
    assert started.wait(5)
    waiting = [threading.Thread(target=submit, args=(2,)) for _ in range(2)]  # 4 rows: the limit
    for t in waiting:
        t.start()
    for _ in range(500):
        if batcher._waiting_rows == 4:
            break
        threading.Event().wait(0.01)
    with pytest.raises(BatchQueueFullError):
        submit(1)
    release.set()
    for t in [busy, *waiting]:
        t.join(10)
    batcher.stop()


def test_a_request_over_max_batch_size_is_refused_as_tf_serving_does(run, mnist):
    batcher = Batcher(BatchingConfig(max_batch_size=32, num_batch_threads=1))
    with pytest.raises(BatchTooLargeError, match="Task size 33 is larger than maximum input batch size 32"):
        batcher.submit("k", run, {"images": mnist.x_test[:33]})
    assert batcher.submit("k", run, {"images": mnist.x_test[:32]})["probabilities"].shape == (32, 10)
    batcher.stop()


def test_large_batch_splitting_runs_pieces_of_the_execution_size(mnist):
    seen = []

    def run(feeds):
        seen.append(len(feeds["x"]))
        return {"y": feeds["x"] * 2}

    config = BatchingConfig(max_batch_size=64, enable_large_batch_splitting=True, max_execution_batch_size=16,
                            num_batch_threads=2)
    batcher = Batcher(config)
    rows = np.arange(40, dtype=np.float32).reshape(40, 1)
    out = batcher.submit("k", run, {"x": rows})
    batcher.stop()
    np.testing.assert_array_equal(out["y"], rows * 2)
    assert max(seen) <= 16 and sum(seen) == 40
    with pytest.raises(BatchTooLargeError):
        Batcher(config).submit("k", run, {"x": np.zeros((65, 1))})
