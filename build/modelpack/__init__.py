"""modelpack: PyTorch model to a gated, quantized ONNX artefact for AWS Lambda.

Pipeline: load the source model, export to ONNX, optimise the graph, quantize to INT8
(several candidates, measured), gate on accuracy against the fp32 reference, then write
the artefact directory and its manifest atomically. Entry point: ``modelpack build``.
"""

FORMAT_VERSION = 1
