"""The colorfuse runtime: runs exported ONNX models with onnxruntime; never imports torch."""
