import albumentations as A

from cifarlab import selfcheck
from cifarlab.augment import train_transforms


def compute_mean_std(images):
    x = images / 255.0
    return x.mean(axis=(0, 1, 2)), x.std(axis=(0, 1, 2))


def test_a_right_answer_is_kept(capsys):
    assert selfcheck.mean_std(compute_mean_std) is compute_mean_std
    assert "✅ compute_mean_std is right" in capsys.readouterr().out


def test_an_unwritten_exercise_falls_back_and_says_so(capsys):
    def compute_mean_std(images):
        raise NotImplementedError("Exercise: average over axis=(0, 1, 2)")

    used = selfcheck.mean_std(compute_mean_std)
    out = capsys.readouterr().out
    assert used is selfcheck.reference_mean_std
    assert "not written yet" in out and "reference implementation" in out


def test_wrong_answers_get_plain_words(capsys):
    cases = {
        "0..255 scale": lambda im: (im.mean(axis=(0, 1, 2)), im.std(axis=(0, 1, 2))),
        "shape (32, 32, 3)": lambda im: ((im / 255).mean(axis=0), None),
        "pair (mean, std)": lambda im: (im / 255).mean(axis=(0, 1, 2)),
        "std of per-image values": lambda im: (
            (im / 255).mean(axis=(0, 1, 2)),
            (im / 255).mean(axis=(1, 2)).std(axis=0),
        ),
        "ZeroDivisionError": lambda im: 1 / 0,
    }
    for phrase, wrong in cases.items():
        assert selfcheck.mean_std(wrong) is selfcheck.reference_mean_std
        assert phrase in capsys.readouterr().out, phrase


def build_ok(mean, std):
    """A right answer: the course's own pipeline, which the broken variants below alter."""
    return train_transforms(mean, std)


def test_pipeline_check_accepts_the_recipe(capsys):
    assert selfcheck.train_transforms(build_ok) is build_ok
    assert "PadIfNeeded -> RandomCrop" in capsys.readouterr().out


def test_pipeline_check_names_what_is_wrong(capsys):
    def without_flip(mean, std):
        return A.Compose([t for t in build_ok(mean, std).transforms if not isinstance(t, A.HorizontalFlip)])

    def zero_fill(mean, std):
        steps = build_ok(mean, std).transforms
        steps[3] = A.CoarseDropout(
            num_holes_range=(1, 1), hole_height_range=(8, 8), hole_width_range=(8, 8), fill=0, p=1
        )
        return A.Compose(steps)

    def normalise_first(mean, std):
        steps = list(build_ok(mean, std).transforms)
        return A.Compose([steps[4], *steps[:4], steps[5]])

    def always_flip(mean, std):
        steps = build_ok(mean, std).transforms
        steps[2] = A.HorizontalFlip(p=1.0)
        return A.Compose(steps)

    def no_crop_motion(mean, std):  # padding 0: the crop cannot move
        steps = list(build_ok(mean, std).transforms)
        steps[0] = A.PadIfNeeded(32, 32)
        steps[3] = A.CoarseDropout(
            num_holes_range=(1, 1),
            hole_height_range=(8, 8),
            hole_width_range=(8, 8),
            fill=tuple(m * 255 for m in mean),
            p=0.0,
        )
        steps[2] = A.HorizontalFlip(p=0.01)
        return A.Compose(steps)

    expectations = {
        without_flip: "lacks ['HorizontalFlip']",
        zero_fill: "fill CoarseDropout holes with the mean",
        normalise_first: "then Normalize, and ToTensorV2 last",
        always_flip: "p=1.0",
        no_crop_motion: "pad-then-random-crop",
        (lambda mean, std: [A.HorizontalFlip()]): "should return an A.Compose",
    }
    for build, phrase in expectations.items():
        assert selfcheck.train_transforms(build) is selfcheck.reference_train_transforms
        assert phrase in capsys.readouterr().out, phrase


def test_reference_pipeline_passes_its_own_check(capsys):
    assert selfcheck.train_transforms(selfcheck.reference_train_transforms) is selfcheck.reference_train_transforms
    assert "✅" in capsys.readouterr().out
