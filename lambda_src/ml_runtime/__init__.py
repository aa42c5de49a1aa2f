"""The inference function's runtime: ONNX Runtime, a tokenizer and nothing heavier.

Importing :mod:`ml_runtime.handler` initialises the execution environment (find, verify
and load the model, warm it up); :func:`ml_runtime.handler.lambda_handler` serves events.
"""
