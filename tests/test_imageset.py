import numpy as np
import pytest

from cifarlab.data import DataError, ImageSet, channel_stats, holdout_split, take


def make(n=20, classes=("a", "b")):
    rng = np.random.default_rng(0)
    return ImageSet(
        images=rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
        labels=np.arange(n) % len(classes),
        classes=classes,
        source="test",
    )


def test_channels_first_images_get_a_hint():
    with pytest.raises(DataError, match=r"\(N, H, W, 3\).*transpose\(0, 2, 3, 1\)"):
        ImageSet(np.zeros((2, 3, 32, 32), np.uint8), np.zeros(2, int), ("a",), "t")


def test_float_images_are_refused_with_the_fix():
    with pytest.raises(DataError, match=r"uint8.*float32.*astype\(np.uint8\)"):
        ImageSet(np.zeros((2, 32, 32, 3), np.float32), np.zeros(2, int), ("a",), "t")


def test_labels_must_match_images_and_classes():
    with pytest.raises(DataError, match="one label per image"):
        ImageSet(np.zeros((2, 32, 32, 3), np.uint8), np.zeros(3, int), ("a",), "t")
    with pytest.raises(DataError, match=r"0\.\.1"):
        ImageSet(np.zeros((2, 32, 32, 3), np.uint8), np.array([0, 2]), ("a", "b"), "t")


def test_holdout_is_seeded_disjoint_and_complete():
    data = make(50)
    train, val = holdout_split(data, 10, seed=1)
    again_train, again_val = holdout_split(data, 10, seed=1)
    other_train, _ = holdout_split(data, 10, seed=2)
    assert len(train) == 40 and len(val) == 10
    assert np.array_equal(val.images, again_val.images) and np.array_equal(train.images, again_train.images)
    assert not np.array_equal(train.images, other_train.images)
    seen = {x.tobytes() for x in train.images} | {x.tobytes() for x in val.images}
    assert seen == {x.tobytes() for x in data.images}


def test_holdout_refuses_impossible_sizes_and_holds_out_nothing_for_a_final_model():
    for impossible in (20, -1):
        with pytest.raises(DataError, match="between 0 and 19"):
            holdout_split(make(20), impossible)
    train, val = holdout_split(make(20), 0)
    assert len(train) == 20 and len(val) == 0


def test_take_subsets_and_keeps_all_when_asked_for_more():
    data = make(30)
    assert len(take(data, 12, seed=0)) == 12
    assert take(data, None) is data and take(data, 100) is data


def test_channel_stats_match_numpy_and_are_on_the_unit_scale():
    data = make(40)
    mean, std = channel_stats(data.images, chunk=7)  # chunks that do not divide N
    pixels = data.images.reshape(-1, 3) / 255.0
    np.testing.assert_allclose(mean, pixels.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(std, pixels.std(axis=0), atol=1e-6)


def test_class_counts():
    assert make(20).class_counts() == {"a": 10, "b": 10}


def test_splits_summary_names_the_source_and_sizes():
    from cifarlab.data import load_splits
    from cifarlab.profile import get_profile

    summary = load_splits("synthetic", get_profile("smoke")).summary()
    assert "source : synthetic shapes" in summary and "val    :    200 images" in summary
