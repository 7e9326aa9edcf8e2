"""RQ worker: decodes scans, preprocesses them the MNIST way and calls the model server."""
