"""Self-checks for the notebooks' exercises.

Each check runs the student's function on a small case, says in plain words what is right
or wrong, and returns the function the rest of the notebook should use: the student's own
when it is right, else cifarlab's reference implementation (and it says so). So the cells
after an exercise always run, solved or not.

Usage in a notebook, right after the exercise cell::

    compute_mean_std = check.mean_std(compute_mean_std)
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from cifarlab.data.imageset import channel_stats

OK, WRONG = "✅", "❌"


class _Problem(Exception):
    """What is wrong with an answer, in words a student can act on."""


def _report(student: Callable, fallback: Callable, test: Callable[[], str]) -> Callable:
    label = getattr(student, "__name__", "your function")
    try:
        praise = test()
    except NotImplementedError:
        print(f"{WRONG} {label} is not written yet (it raises NotImplementedError).")
    except _Problem as problem:
        print(f"{WRONG} {label}: {problem}")
    except Exception as error:  # the student's code crashed: show why, keep the lesson going
        print(f"{WRONG} {label} raised {type(error).__name__}: {error}")
    else:
        print(f"{OK} {label} is right. {praise}")
        return student
    print("   Using cifarlab's reference implementation so the rest of the notebook runs.")
    return fallback


# --- lesson 01: mean and std -------------------------------------------------------------


def reference_mean_std(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of uint8 NHWC images on the 0..1 scale."""
    return channel_stats(images)


def mean_std(student: Callable[[np.ndarray], Any]) -> Callable:
    """Check `compute_mean_std(images) -> (mean, std)`, per channel, on the 0..1 scale."""

    def test() -> str:
        rng = np.random.default_rng(7)
        images = rng.integers(0, 256, size=(16, 32, 32, 3), dtype=np.uint8)
        images[..., 2] //= 2  # give the channels different statistics
        want_mean, want_std = channel_stats(images)
        result = student(images.copy())
        if not isinstance(result, tuple) or len(result) != 2:
            raise _Problem("it should return a pair (mean, std).")
        mean, std = (np.asarray(v, dtype=np.float64) for v in result)
        for what, got, want in (("mean", mean, want_mean), ("std", std, want_std)):
            if got.shape != (3,):
                raise _Problem(
                    f"the {what} has shape {got.shape}; it should hold one number per colour "
                    "channel, shape (3,). Average over images, height and width: axis=(0, 1, 2)."
                )
            if np.allclose(got, want * 255, rtol=1e-3):
                raise _Problem(f"the {what} is on the 0..255 scale; divide the pixels by 255 first.")
            if not np.allclose(got, want, atol=1e-3):
                hint = ""
                if what == "std":
                    hint = " Take the std over all pixels of a channel at once, not a std of per-image values."
                raise _Problem(f"the {what} is {np.round(got, 4)} but should be {np.round(want, 4)}.{hint}")
        return "One number per channel, on the 0..1 scale."

    return _report(student, reference_mean_std, test)


# --- lesson 01: the training pipeline ----------------------------------------------------

EXPECTED_STEPS = ("PadIfNeeded", "RandomCrop", "HorizontalFlip", "CoarseDropout", "Normalize", "ToTensorV2")


def reference_train_transforms(mean: Sequence[float], std: Sequence[float]) -> Any:
    """cifarlab's training pipeline with the course's default parameters."""
    from cifarlab.augment import train_transforms

    return train_transforms(mean, std)


def train_transforms(student: Callable[[Sequence[float], Sequence[float]], Any]) -> Callable:
    """Check `build_train_transforms(mean, std) -> A.Compose` against the recipe in the lesson."""

    def test() -> str:
        import albumentations as A
        import torch

        mean, std = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)
        pipeline = student(mean, std)
        if not isinstance(pipeline, A.Compose):
            raise _Problem(f"it should return an A.Compose([...]), got {type(pipeline).__name__}.")
        steps = [type(t).__name__ for t in pipeline.transforms]
        missing = [s for s in EXPECTED_STEPS if s not in steps]
        if missing:
            raise _Problem(f"the pipeline has {steps} but lacks {missing}.")
        if [s for s in steps if s in EXPECTED_STEPS] != list(EXPECTED_STEPS):
            raise _Problem(
                f"the steps are in the order {steps}; augment first (pad, crop, flip, dropout), "
                "then Normalize, and ToTensorV2 last."
            )
        flip = pipeline.transforms[steps.index("HorizontalFlip")]
        if not 0 < flip.p < 1:
            raise _Problem(f"HorizontalFlip has p={flip.p}: with p=0 nothing flips, with p=1 everything does.")
        # Behaviour: a mean-coloured image must come out as zeros (Normalize uses mean and std).
        flat = np.tile(np.round(np.array(mean) * 255).astype(np.uint8), (32, 32, 1))
        outs = [pipeline(image=flat)["image"] for _ in range(8)]  # cutout may apply or not
        if any(not isinstance(o, torch.Tensor) or tuple(o.shape) != (3, 32, 32) for o in outs):
            raise _Problem("the output should be a (3, 32, 32) tensor: end with ToTensorV2().")
        if max(float(o.abs().max()) for o in outs) > 0.05:
            raise _Problem(
                "a mean-coloured image should normalise to about 0 everywhere: pass the mean and "
                "std you were given to A.Normalize (and fill CoarseDropout holes with the mean)."
            )
        # Behaviour: random crops after padding move the image around.
        rng = np.random.default_rng(0)
        noise = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
        outs = {pipeline(image=noise)["image"].numpy().tobytes() for _ in range(12)}
        if len(outs) < 4:
            raise _Problem("12 runs gave almost the same image: is the pad-then-random-crop in place?")
        return f"Steps: {' -> '.join(steps)}."

    return _report(student, reference_train_transforms, test)


# --- lesson 02: the residual block and the CustomResNet ----------------------------------


def _conv_and_norm_counts(module: Any) -> tuple[int, int, int]:
    from torch import nn

    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    norms = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    biased = sum(m.bias is not None for m in convs)
    return len(convs), len(norms), biased


def residual_block(student: Callable[[int], Any]) -> Callable:
    """Check a residual block class: `student(channels)` maps (N, C, H, W) to x + f(x)."""
    from cifarlab.model import ResidualBlock

    def test() -> str:
        import torch
        from torch import nn

        block = student(8)
        x = torch.randn(2, 8, 6, 6)
        out = block(x)
        if tuple(out.shape) != tuple(x.shape):
            raise _Problem(f"(2, 8, 6, 6) in gave {tuple(out.shape)} out; both convs keep the width: padding=1, no pooling.")
        convs, norms, biased = _conv_and_norm_counts(block)
        if convs != 2 or norms != 2:
            raise _Problem(f"it has {convs} conv(s) and {norms} BatchNorm(s); the block is two conv -> BatchNorm -> ReLU.")
        if biased:
            raise _Problem("its convs have a bias; BatchNorm right after adds its own, so use bias=False.")
        block = student(8)  # fresh BatchNorm statistics
        for m in block.modules():  # with zero convs, f(x) = 0: a residual block returns x itself
            if isinstance(m, nn.Conv2d):
                nn.init.zeros_(m.weight)
        block.eval()
        if not torch.allclose(block(x), x, atol=1e-6):
            raise _Problem("with all conv weights zero the output should equal the input; is `return x + ...` there?")
        return "Same shape in and out, two conv-BN-ReLU, and the identity path."

    return _report(student, ResidualBlock, test)


def custom_resnet(student: Callable[[], Any]) -> Callable:
    """Check the assembled network: 6,573,130 parameters, (N, 3, 32, 32) -> (N, 10)."""
    from cifarlab.model import PARAMETERS_AT_DEFAULTS, CustomResNet, count_parameters

    def test() -> str:
        import torch

        model = student()
        n = count_parameters(model)
        convs, norms, biased = _conv_and_norm_counts(model)
        if biased:
            raise _Problem(f"{biased} conv(s) have a bias; use bias=False (the BatchNorm after each has one).")
        if convs != 8 or norms != 8:
            raise _Problem(f"it has {convs} convs and {norms} BatchNorms; ResNet-9 has 8 of each (prep, layer1 x3, layer2, layer3 x3).")
        if n != PARAMETERS_AT_DEFAULTS:
            raise _Problem(f"it has {n:,} parameters, {n - PARAMETERS_AT_DEFAULTS:+,} off the 6,573,130 expected: check the widths 64, 128, 256, 512.")
        model.eval()
        out = model(torch.randn(2, 3, 32, 32))
        if tuple(out.shape) != (2, 10):
            raise _Problem(f"a batch of 2 images gave output {tuple(out.shape)}; expected (2, 10): pool globally, flatten, then the linear layer.")
        return f"{n:,} parameters and 10 logits per image."

    return _report(student, CustomResNet, test)


# --- lesson 03: one epoch of the plain loop ----------------------------------------------


def reference_train_one_epoch(model: Any, batches: Any, optimizer: Any, schedule: Any) -> float:
    """One epoch of cifarlab's plain loop; returns the mean training loss."""
    from cifarlab.loop import train_epoch

    return train_epoch(model, batches, optimizer, schedule)["loss"]


def train_one_epoch(student: Callable[..., float]) -> Callable:
    """Check `train_one_epoch(model, batches, optimizer, schedule) -> mean loss` against the reference."""

    def test() -> str:
        import torch

        from cifarlab.model import CustomResNet
        from cifarlab.schedule import one_cycle

        torch.manual_seed(0)
        batches = [(torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))) for _ in range(3)]
        results = []
        for fn in (student, reference_train_one_epoch):
            torch.manual_seed(1)
            model = CustomResNet(widths=(4, 8, 8, 8))
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
            schedule = one_cycle(optimizer, 0.1, 6)
            loss = fn(model, batches, optimizer, schedule)
            results.append((model, optimizer, float(loss) if loss is not None else None))
        (mine, my_opt, my_loss), (ref, ref_opt, ref_loss) = results
        if my_loss is None:
            raise _Problem("it returns nothing; return the mean loss over the epoch.")
        if abs(my_opt.param_groups[0]["lr"] - ref_opt.param_groups[0]["lr"]) > 1e-9:
            raise _Problem("the learning rate did not move as it should: call schedule.step() after every optimizer.step().")
        if not mine.training:
            raise _Problem("the model is in eval mode: call model.train() at the start (BatchNorm behaves differently).")
        same = all(torch.allclose(a, b, atol=1e-5) for a, b in zip(mine.state_dict().values(), ref.state_dict().values()))
        if not same:
            raise _Problem(
                "after one epoch the weights differ from the reference. The order per batch is: forward, "
                "loss, optimizer.zero_grad(), loss.backward(), optimizer.step(), schedule.step()."
            )
        if abs(my_loss - ref_loss) > 1e-4:
            raise _Problem(f"the weights are right but the returned loss is {my_loss:.4f}, not the mean {ref_loss:.4f}.")
        return "Same weights and loss as the reference after an epoch."

    return _report(student, reference_train_one_epoch, test)


# --- lesson 04: the LightningModule ------------------------------------------------------


def lightning_module(student: Callable[..., Any]) -> Callable:
    """Check a LightningModule class built as `student(model, max_lr)`: a loss, SGD, OneCycle per step."""
    from cifarlab.lit import LitResNet

    def reference(model: Any = None, max_lr: float = 0.4) -> Any:
        return LitResNet(lr=max_lr)

    def test() -> str:
        import lightning as L
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        from cifarlab.model import CustomResNet

        torch.manual_seed(0)
        module = student(CustomResNet(widths=(4, 8, 8, 8)), 0.1)
        data = TensorDataset(torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,)))
        before = [p.detach().clone() for p in module.parameters()]
        trainer = L.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
        trainer.fit(module, DataLoader(data, batch_size=8))
        if all(torch.equal(a, b) for a, b in zip(before, module.parameters())):
            raise _Problem("training changed no weight: does training_step return the loss?")
        optimizer = trainer.optimizers[0]
        if not isinstance(optimizer, torch.optim.SGD) or not optimizer.defaults.get("nesterov"):
            raise _Problem(f"the optimizer is {type(optimizer).__name__}; use SGD with momentum=0.9, nesterov=True.")
        configs = trainer.lr_scheduler_configs
        if not configs or not isinstance(configs[0].scheduler, torch.optim.lr_scheduler.OneCycleLR):
            raise _Problem("there is no OneCycleLR: return {'optimizer': ..., 'lr_scheduler': {'scheduler': ..., 'interval': 'step'}}.")
        if configs[0].interval != "step":
            raise _Problem("the schedule steps once per epoch; OneCycle must step per batch: 'interval': 'step'.")
        if configs[0].scheduler.total_steps < trainer.estimated_stepping_batches:
            raise _Problem("OneCycle's total_steps should cover every batch: use self.trainer.estimated_stepping_batches.")
        if "train_loss" not in trainer.callback_metrics:
            raise _Problem("nothing is logged as 'train_loss': add self.log('train_loss', loss) in training_step.")
        return "It trains, with SGD (Nesterov) and OneCycle stepped per batch."

    return _report(student, reference, test)


# --- lesson 05: the LR finder's suggestion -----------------------------------------------


def reference_steepest_lr(lrs: Sequence[float], losses: Sequence[float], skip_begin: int = 10, skip_end: int = 1) -> float:
    """The rate where the loss falls fastest against log10 of the rate."""
    from cifarlab.lr_finder import steepest_descent

    return steepest_descent(lrs, losses, skip_begin, skip_end)  # type: ignore[return-value]


def steepest_lr(student: Callable[..., float]) -> Callable:
    """Check `steepest_lr(lrs, losses)` on a made-up range-test curve."""

    from cifarlab.lr_finder import steepest_descent

    def test() -> str:
        lrs = np.geomspace(1e-4, 10, 100)
        x = np.log10(lrs)
        losses = 2.3 - 1.2 / (1 + np.exp(-3 * (x + 1.5))) + 0.002 * np.exp(2.2 * (x + 1))  # falls, then rises
        losses = np.where(x > 0.3, 3.5 - 2.0 * (x - 0.3), losses)  # blows up, then "recovers" as it collapses
        want = reference_steepest_lr(list(lrs), list(losses))
        got = student(list(lrs), list(losses))
        if not isinstance(got, (float, np.floating)) or not np.isfinite(got):
            raise _Problem(f"it should return one learning rate (a float), got {got!r}.")
        if np.isclose(got, lrs[int(np.argmin(losses))]):
            raise _Problem("that is the rate of the lowest loss, which is already close to diverging; look for the steepest descent.")
        if got > lrs[int(np.argmin(losses))]:
            raise _Problem(f"it gives {got:.3g}, past the lowest point of the curve, where the loss falls only because the network collapsed. Search up to np.argmin(loss) only.")
        if not np.isclose(got, want, rtol=1e-6):
            hint = ""
            if np.isclose(got, steepest_descent(list(lrs), list(losses), log_lr=False)):
                hint = " That is the slope against the rate itself; take it against np.log10(lrs)."
            raise _Problem(f"it gives {got:.3g}, the steepest descent is at {want:.3g}.{hint} Skip the first 10 and the last point.")
        return f"{got:.3g}, where the loss falls fastest."

    return _report(student, reference_steepest_lr, test)
