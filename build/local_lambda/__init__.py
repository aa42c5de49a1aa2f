"""Run a Lambda handler locally the way Lambda does.

A loopback server speaks the Lambda Runtime API; the handler runs under ``awslambdaric``
(the official runtime interface client) in a fresh process per execution environment,
with Lambda's environment variables. ``local-lambda invoke``, ``local-lambda serve`` and
the cold-start and load benchmarks are built on it.
"""
