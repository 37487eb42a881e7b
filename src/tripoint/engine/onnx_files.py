"""The files an ONNX embedding model directory holds (kept apart from ONNX Runtime itself)."""

MODEL_FILE = "model.onnx"
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")
