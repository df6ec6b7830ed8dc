"""The ResNet-9 as a LightningModule: what one step computes and how to optimise it.

Lightning runs the loop we wrote by hand in lesson 03 (devices, mixed precision,
checkpoints, logging, validation); this module only says what one step computes and how
to optimise. Every default is the RECIPE's (`cifarlab.recipe`, after David Page's ResNet-9):
SGD with constant Nesterov momentum, weight decay, label smoothing and a OneCycle schedule.
"""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassAccuracy

from cifarlab.batch_augment import batch_augment, batch_generator
from cifarlab.errors import OptionError
from cifarlab.model import ResNet9
from cifarlab.recipe import OPTIMIZERS, RECIPE
from cifarlab.schedule import one_cycle

COMPILE_BACKEND = "inductor"  # torch.compile's default: generated Triton (GPU) or C++ (CPU) kernels


class LitResNet9(L.LightningModule):
    """ResNet9 + loss, optimizer and schedule.

    max_lr: OneCycle's peak learning rate (None: the recipe's for the optimizer).
    batch_augment: crop, flip and cutout whole training batches on the device
        (`cifarlab.batch_augment`); give the DataModule augment="batch" then.
    cutout_p: the share of training images that get a cutout hole (both augmentation paths).
    channels_last: keep activations in NHWC memory order, which tensor cores prefer.
    compile: run the network through `torch.compile` (PyTorch 2's graph compiler): kernels
        fused for this device, after a one-off compilation of a minute or so.
    ema_horizon: recorded, not used here: the run trains with an EMA of its weights
        (`cifarlab.ema`, added by `cifarlab.train`), and its checkpoints hold that average.
    mean, std, classes: the data's statistics and class names, saved in every checkpoint
        so that evaluation and inference need nothing else.
    """

    def __init__(
        self,
        widths: Sequence[int] = RECIPE.widths,
        dropout: float = 0.0,
        logit_scale: float = RECIPE.logit_scale,
        optimizer: str = RECIPE.optimizer,
        max_lr: float | None = None,
        momentum: float = RECIPE.momentum,
        weight_decay: float = RECIPE.weight_decay,
        label_smoothing: float = RECIPE.label_smoothing,
        pct_start: float = RECIPE.pct_start,
        div_factor: float = RECIPE.div_factor,
        final_div_factor: float = RECIPE.final_div_factor,
        cycle_momentum: bool = RECIPE.cycle_momentum,
        batch_augment: bool = False,
        cutout_p: float = RECIPE.cutout_p,
        channels_last: bool = False,
        seed: int = 0,
        ema_horizon: float | None = None,
        compile: bool = False,
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
        classes: Sequence[str] = tuple(f"class {i}" for i in range(RECIPE.num_classes)),
    ) -> None:
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise OptionError(f"optimizer={optimizer!r}: choose one of {OPTIMIZERS}.")
        if optimizer == "adam" and momentum != RECIPE.momentum:
            raise OptionError(
                f"momentum={momentum} is SGD's; AdamW keeps its own averages (betas): drop the momentum, or use sgd."
            )
        # plain Python values, so that checkpoints load with weights_only=True
        max_lr = RECIPE.default_max_lr(optimizer) if max_lr is None else float(max_lr)
        widths = [int(w) for w in widths]
        mean, std = [float(m) for m in mean], [float(s) for s in std]
        classes = [str(c) for c in classes]
        self.save_hyperparameters()  # all of the arguments above, as they are now
        self.max_lr = max_lr  # the rate configure_optimizers uses; find_lr sets it
        self.model = ResNet9(widths, len(classes), dropout, logit_scale)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        if compile:  # in place: the weights keep their names, so checkpoints load into an uncompiled model
            self.model.compile(backend=COMPILE_BACKEND)
        self.train_acc, self.val_acc, self.test_acc = (self._accuracy(len(classes)) for _ in range(3))

    @staticmethod
    def _accuracy(num_classes: int) -> MulticlassAccuracy:
        """Accuracy counted over all the batches (and devices) of an epoch, computed once at its end."""
        return MulticlassAccuracy(num_classes=num_classes, average="micro")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.hparams.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.model(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        if self.hparams.batch_augment:
            generator = batch_generator(self.hparams.seed, self.current_epoch, batch_idx)
            x = batch_augment(x, generator, cutout_p=self.hparams.cutout_p)
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

    def configure_optimizers(self) -> dict:
        hp = self.hparams
        params = self.model.parameters()
        if hp.optimizer == "sgd":
            optimizer = torch.optim.SGD(
                params, lr=self.max_lr, momentum=hp.momentum, nesterov=RECIPE.nesterov, weight_decay=hp.weight_decay
            )
        else:
            optimizer = torch.optim.AdamW(params, lr=self.max_lr, weight_decay=hp.weight_decay)
        steps = int(self.trainer.estimated_stepping_batches)  # every batch of every epoch
        schedule = one_cycle(
            optimizer, self.max_lr, steps, hp.pct_start, hp.div_factor, hp.final_div_factor, hp.cycle_momentum
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
