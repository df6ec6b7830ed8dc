"""Progress bars a saved notebook shows as they ended: text, on stdout, silenced inside checks."""

from tqdm.notebook import tqdm as widget_tqdm

from cifarlab.profile import get_profile
from cifarlab.progress import progress, silenced
from cifarlab.train import TextProgressBar, make_trainer


def test_a_bar_is_text_on_stdout_and_ends_full(capsys):
    for _ in progress(range(3), desc="work"):
        pass
    out = capsys.readouterr().out
    assert "work: 100%" in out and "3/3" in out


def test_silenced_bars_print_nothing(capsys):
    with silenced():
        list(progress(range(3), desc="quiet"))
    assert "quiet" not in capsys.readouterr().out


def test_the_course_trainer_draws_text_bars(tmp_path):
    trainer = make_trainer(tmp_path, get_profile("smoke"))
    bar = trainer.progress_bar_callback
    assert isinstance(bar, TextProgressBar)
    train_bar = bar.init_train_tqdm()
    assert not isinstance(train_bar, widget_tqdm) and type(train_bar).__name__ == "TextTqdm"
    train_bar.close()
