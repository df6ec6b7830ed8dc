"""The CustomResNet as a LightningModule: optimizer, OneCycle schedule, metrics, precision.

Lightning runs the loop we wrote by hand in lesson 03 (devices, mixed precision,
checkpoints, logging, validation); this module only says what one step computes and how
to optimise. The recipe's defaults follow David Page's ResNet-9: SGD with Nesterov momentum
0.9, weight decay 5e-4, label smoothing 0.2, a OneCycle schedule with a linear warm-up over
the first quarter, batch 512, 24 epochs.
"""

from __future__ import annotations

from typing import Sequence

import lightning as L
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassAccuracy

from cifarlab.batch_augment import batch_augment, batch_generator
from cifarlab.model import WIDTHS, CustomResNet
from cifarlab.recipe import DEFAULT_LR, OPTIMIZERS
from cifarlab.schedule import one_cycle

def _quiet_lightning_notices() -> None:
    """Drop two messages that would fill every lesson's output and that a student cannot act
    on: an advertisement for a cloud logger, and a deprecation inside Lightning itself."""
    import logging
    import warnings

    class DropTips(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return not str(record.msg).startswith("💡 Tip")

    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(DropTips())
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")


_quiet_lightning_notices()



class LitResNet(L.LightningModule):
    """CustomResNet + loss, optimizer and schedule.

    lr: OneCycle's peak learning rate (None: the optimizer's default from DEFAULT_LR).
    batch_augment: crop, flip and cutout whole training batches on the device
        (`cifarlab.batch_augment`); give the DataModule augment="batch" then.
    channels_last: keep activations in NHWC memory order, which tensor cores prefer.
    mean, std, classes: the data's statistics and class names, saved in every checkpoint
        so that evaluation and inference need nothing else.
    """

    def __init__(
        self,
        widths: Sequence[int] = WIDTHS,
        dropout: float = 0.0,
        logit_scale: float = 0.125,
        optimizer: str = "sgd",
        lr: float | None = None,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        label_smoothing: float = 0.2,
        pct_start: float = 0.25,
        div_factor: float = 25.0,
        final_div_factor: float = 1e3,
        batch_augment: bool = False,
        channels_last: bool = False,
        seed: int = 0,
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
        classes: Sequence[str] = tuple(f"class {i}" for i in range(10)),
    ) -> None:
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={optimizer!r}: choose one of {OPTIMIZERS}.")
        # plain Python values, so that checkpoints load with weights_only=True
        lr = DEFAULT_LR[optimizer] if lr is None else float(lr)
        widths = [int(w) for w in widths]
        mean, std = [float(m) for m in mean], [float(s) for s in std]
        classes = [str(c) for c in classes]
        self.save_hyperparameters()  # all of the arguments above, as they are now
        self.lr = lr  # Lightning's LR finder reads and writes this attribute
        self.model = CustomResNet(widths, len(classes), dropout, logit_scale)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        metric = lambda: MulticlassAccuracy(num_classes=len(classes), average="micro")  # noqa: E731
        self.train_acc, self.val_acc, self.test_acc = metric(), metric(), metric()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.hparams.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.model(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        if self.hparams.batch_augment:
            x = batch_augment(x, batch_generator(self.hparams.seed, self.current_epoch, batch_idx))
        logits = self(x)
        loss = F.cross_entropy(logits, y, label_smoothing=self.hparams.label_smoothing)
        self.train_acc(logits, y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, sync_dist=True)
        self.log("train_acc", self.train_acc, on_step=False, on_epoch=True)
        return loss

    def _evaluate(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str, metric: MulticlassAccuracy) -> None:
        x, y = batch
        logits = self(x)
        # the plain cross-entropy (no smoothing): the number to compare across recipes
        self.log(f"{stage}_loss", F.cross_entropy(logits, y), sync_dist=True)
        metric(logits, y)
        self.log(f"{stage}_acc", metric)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val", self.val_acc)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test", self.test_acc)

    def configure_optimizers(self):  # noqa: ANN201 (Lightning's own union of return types)
        hp = self.hparams
        params = self.model.parameters()
        if hp.optimizer == "sgd":
            optimizer = torch.optim.SGD(params, lr=self.lr, momentum=hp.momentum, nesterov=True, weight_decay=hp.weight_decay)
        else:
            optimizer = torch.optim.AdamW(params, lr=self.lr, weight_decay=hp.weight_decay)
        steps = int(self.trainer.estimated_stepping_batches)  # every batch of every epoch
        schedule = one_cycle(optimizer, self.lr, steps, hp.pct_start, hp.div_factor, hp.final_div_factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
