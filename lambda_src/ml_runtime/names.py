"""Names that the build, the runtime and the benchmarks must agree on.

This module imports nothing, so any of them can use it: :mod:`ml_runtime.prehash` reads
the manifest before the runtime's heavy imports, and the benchmark (which must not load
Powertools or ONNX Runtime to parse logs) finds the init split by its log message.
"""

# The artefact's manifest, at the root of the artefact directory.
MANIFEST_NAME = "manifest.json"
# The runtime's init log line, which carries init_ms and init_split_ms.
INIT_LOG_MESSAGE = "model loaded"
