"""Lambda entry point: ``ml_runtime.handler.lambda_handler``.

Importing this module is the function's init: the model is found, verified, loaded and
warmed up here, once per execution environment, never inside the handler.
"""

from __future__ import annotations

import time

_STARTED = time.perf_counter()

from ml_runtime import prehash  # noqa: E402
from ml_runtime.config import RuntimeConfig  # noqa: E402

CONFIG = RuntimeConfig.from_environment()
# The baked model's files are hashed on a thread while the imports below run.
prehash.start(CONFIG.model_dir)

from typing import Any  # noqa: E402

from ml_runtime.bootstrap import initialise  # noqa: E402
from ml_runtime.observability import logger, metrics  # noqa: E402
from ml_runtime.snapstart import register_hooks  # noqa: E402

FUNCTION = initialise(_STARTED, CONFIG)
register_hooks(FUNCTION.service.located)  # SnapStart: renew what a snapshot would share


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: Any, context: Any) -> Any:
    return FUNCTION.handle(event, context)
