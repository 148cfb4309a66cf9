"""The transfer lab: scratch vs linear probe vs fine-tuning on one task, as learning curves.

`python -m models.transfer --help` runs a sweep from the terminal. A notebook uses the same calls as the
page: `load_task`, `load_encoder`, `train_run` for one run, `run_sweep` for a resumable grid of them.
"""

from models.transfer.config import (
    DEFAULT_REGIMES,
    REGIMES,
    RESULTS,
    SHIPPED,
    Progress,
    Sweep,
    TrainConfig,
    run_key,
    settings_hash,
)
from models.transfer.data import (
    BUNDLED_ENCODER,
    ENCODERS,
    TASKS,
    Encoder,
    Task,
    TaskUnavailable,
    folder_task,
    load_encoder,
    load_task,
)
from models.transfer.loop import feature_probe, subset, train_run, validation
from models.transfer.sweep import (
    MAX_PAGE_RUNS,
    MAX_PAGE_SECONDS,
    RUN_FIELDS,
    SweepMismatch,
    check_run,
    cli_args,
    estimate_seconds,
    load_runs,
    page_sweep,
    parse_sizes,
    run_sweep,
    user_folder,
    user_results,
    user_sweeps,
)

__all__ = [
    "BUNDLED_ENCODER",
    "DEFAULT_REGIMES",
    "ENCODERS",
    "MAX_PAGE_RUNS",
    "MAX_PAGE_SECONDS",
    "REGIMES",
    "RESULTS",
    "RUN_FIELDS",
    "SHIPPED",
    "TASKS",
    "Encoder",
    "Progress",
    "Sweep",
    "SweepMismatch",
    "Task",
    "TaskUnavailable",
    "TrainConfig",
    "check_run",
    "cli_args",
    "estimate_seconds",
    "feature_probe",
    "folder_task",
    "load_encoder",
    "load_runs",
    "load_task",
    "page_sweep",
    "parse_sizes",
    "run_key",
    "run_sweep",
    "settings_hash",
    "subset",
    "train_run",
    "user_folder",
    "user_results",
    "user_sweeps",
    "validation",
]  # fmt: skip
