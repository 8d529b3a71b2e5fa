"""Python imports this at start-up when this folder is on PYTHONPATH: the engine guard's hook
(result_log.py) is installed when ``CX_RESULT_LOG`` names a log file."""

import os

if os.environ.get("CX_RESULT_LOG"):
    from result_log import log_results

    log_results(os.environ["CX_RESULT_LOG"])
