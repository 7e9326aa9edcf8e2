"""RQ worker: reads each scan with the scan library, calls the model server over gRPC, records rows."""
