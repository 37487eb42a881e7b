"""The `tgi` backend type: Text Generation Inference native `/generate` and `/generate_stream`."""
