"""Export stage: PyTorch -> ONNX -> int8 (ONNX QDQ, TFLite) -> C."""
