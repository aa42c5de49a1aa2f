"""The naive PyTorch fp32 handler of the source documents, kept as the benchmarks' baseline.

It is never shipped in the Lambda image. :mod:`naive_reference.pooling` holds the one
implementation of sentence pooling that the handler and the model pipeline's fp32
reference share; importing :mod:`naive_reference.handler` loads the model.
"""
