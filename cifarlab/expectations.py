"""What a training lesson's numbers should look like in the profile in force, and whether they do.

In the `smoke` profile a run is 4 batches: its accuracy is near guessing and its validation
loss can be huge (BatchNorm's running averages have seen 4 batches), so those numbers show
only that the code runs. A student needs to be told that, and told which numbers must hold in
every profile, so that a short run is never mistaken for a broken loop, or the other way round.
The accuracy floors have a wide margin below what was measured (see `MEASURED`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from cifarlab.profile import Profile, get_profile

# The lowest final validation accuracy that still means "the loop trains", per profile, and
# what was measured (2-core AMD EPYC, cpu profile: lesson 03 54.7%, lesson 04 55.6%; the
# pretrained model, 10 full epochs: 88.6% on the test set). None: no claim (smoke).
ACCURACY_FLOOR = {"smoke": None, "cpu": 0.35, "full": 0.85}
MEASURED = {"cpu": "54.7% (lesson 03) and 55.6% (lesson 04) after 3 epochs", "full": "88.6% after 10 epochs"}
CHANCE = 0.1  # ten balanced classes


def what_to_expect(profile: Profile | None = None) -> str:
    """A paragraph on what this profile's training numbers can and cannot show."""
    profile = profile or get_profile()
    floor = ACCURACY_FLOOR.get(profile.name)
    if floor is None:
        return (
            f"Profile {profile.name}: {profile.limit_batches or 'all'} batches of {profile.batch_size} images per "
            f"epoch, {profile.epochs} epoch(s). That only shows the code runs: expect an accuracy near "
            f"guessing ({CHANCE:.0%}) and a validation loss that can be far above 2.3, because BatchNorm's "
            "running averages have seen only a few batches, and a training loss above 2.3 (OneCycle's whole "
            "climb and descent squeezed into a few steps). What must still hold: the self-checks above pass, "
            "and every loss is a finite number."
        )
    return (
        f"Profile {profile.name}: {profile.train_size or 'all the'} training images, {profile.epochs} epochs. "
        f"Expect the training loss to fall every epoch and the validation accuracy to end above {floor:.0%} "
        f"(measured: {MEASURED[profile.name]}); well below that, look for a bug."
    )


def judge_history(rows: Sequence[dict[str, float]], profile: Profile | None = None) -> str:
    """Check a run's history against what its profile promises; one line per promise, ✓ or ✗."""
    profile = profile or get_profile()
    lines = []
    losses = [value for row in rows for key, value in row.items() if key.endswith("loss")]
    finite = all(math.isfinite(v) for v in losses)
    lines.append(f"{'✓' if finite else '✗'} every loss is a finite number")
    train = [row["train_loss"] for row in rows if "train_loss" in row]
    floor = ACCURACY_FLOOR.get(profile.name)
    if train and floor is not None:
        guessing = math.log(10)
        lines.append(
            f"{'✓' if train[-1] < guessing * 1.1 else '✗'} the last training loss ({train[-1]:.3f}) is near or "
            f"below what guessing scores ({guessing:.2f})"
        )
    if len(train) > 1:
        fell = all(b < a for a, b in zip(train, train[1:]))
        lines.append(
            f"{'✓' if fell else '✗'} the training loss fell every epoch: {', '.join(f'{v:.3f}' for v in train)}"
        )
    accuracy = rows[-1].get("val_acc") if rows else None
    if floor is not None and accuracy is not None:
        lines.append(
            f"{'✓' if accuracy >= floor else '✗'} the validation accuracy ({accuracy:.1%}) is above {floor:.0%} "
            f"for the {profile.name} profile"
        )
    elif accuracy is not None:
        lines.append(f"  the accuracy ({accuracy:.1%}) and the losses' size say nothing in the {profile.name} profile")
    return "\n".join(lines)
