"""A finished run's training curve as TensorBoard scalars, so `tensorboard --logdir DIR` shows every run of a
sweep: one subfolder per run, named by regime, n and seed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.transfer.records import TransferRun


def log_run(root: str | Path, record: TransferRun) -> Path:
    """Write `record`'s per-epoch loss and accuracy (train and test) under root/<regime>-n<n>-s<seed>; the
    feature probe, which has no epochs, gets its test figures at step 0. Returns the run's folder."""
    from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package (requirements-scale.txt)

    folder = Path(root) / f"{record.regime}-n{record.n_per_class}-s{record.seed}"
    writer = SummaryWriter(log_dir=str(folder))
    try:
        if not record.history:
            writer.add_scalar("loss/test", record.test_loss, 0)
            writer.add_scalar("accuracy/test", 1 - record.test_error / 100, 0)
        for epoch in record.history:
            for split in ("train", "test"):
                for metric in ("loss", "accuracy"):
                    writer.add_scalar(f"{metric}/{split}", epoch.value(split, metric), epoch.epoch)
    finally:
        writer.close()
    return folder
