from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from synth.cli import main
from synth.config import PreviewConfig, compose, typed
from synth.errors import InputError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("body", sorted(p.stem for p in (CONFIGS / "body").glob("*.yaml")))
@pytest.mark.parametrize("motion", sorted(p.stem for p in (CONFIGS / "motion").glob("*.yaml")))
def test_every_config_composes(body, motion, tmp_path):
    overrides = [f"body={body}", f"motion={motion}"]
    overrides += [f"body.model_path={tmp_path}"] if body == "smpl" else []
    overrides += [f"motion.path={tmp_path}"] if motion != "deepmimic" else []
    overrides += [f"motion.body_model_path={tmp_path}"] if motion == "amass" else []
    cfg = typed(compose("preview", overrides), PreviewConfig)
    assert cfg.body.name == body and cfg.render.width == 320


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["nonsense=1"], "Could not override 'nonsense'"),
        (["render.width=wide"], "bad config"),
        (["body=smpl"], "body=smpl needs body.model_path"),
        (["motion.source=kinect"], "motion.source='kinect' is unknown"),
        (["out=clip.avi"], "must end in .mp4 or .gif"),
    ],
)
def test_config_errors_are_one_line(overrides, message):
    with pytest.raises(InputError, match=message) as e:
        typed(compose("preview", overrides), PreviewConfig)
    assert "\n" not in str(e.value)


def test_cli_reports_errors_without_traceback(capsys):
    assert main(["preview", "motion.clip=moonwalk"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown DeepMimic clip 'moonwalk'") and "\n" not in err
    assert main(["preview", "body=smpl", "body.model_path=/nonexistent"]) == 2
    assert "SMPL_NEUTRAL" in capsys.readouterr().err


def test_motions_lists_clips(capsys, tmp_path):
    assert main(["motions"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 15 and out.startswith("walk\t")


@pytest.mark.slow
def test_preview_end_to_end(tmp_path, anny_body):
    video, sheet = tmp_path / "walk.mp4", tmp_path / "sheet.png"
    assert main(["preview", f"out={video}", f"sheet={sheet}", "frames=12", "sheet_frames=4"]) == 0
    frames = iio.imread(video, plugin="pyav")
    assert frames.shape == (12, 240, 320, 3)
    img = iio.imread(sheet)
    assert img.shape == (2 * 240, 4 * 320, 3)
    # The person is drawn: each tile differs from the flat background somewhere.
    assert all((np.abs(img[:, i * 320 : (i + 1) * 320].astype(int) - (118, 122, 128)).sum(-1) > 60).sum() > 500
               for i in range(4))
    gif = tmp_path / "walk.gif"
    assert main(["preview", f"out={gif}", f"sheet={sheet}", "frames=3", "motion.clip=run", "random_shape=true"]) == 0
    assert iio.imread(gif).shape[0] == 3
