"""The `kserve` backend type: Open Inference Protocol v2 servers (KServe, Triton, MLServer)."""
