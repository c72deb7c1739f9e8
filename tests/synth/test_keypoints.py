"""Keypoint visibility: the hiding rules and detector-style randomisation."""

from __future__ import annotations

import numpy as np

from synth.conventions import LEG_KEYPOINTS
from synth.keypoints import detector_visibility, true_visibility


def test_true_visibility_combines_renderer_occluder_and_total_occlusion():
    t, j = 3, 14
    rendered = np.ones((t, j), bool)
    rendered[0, 5] = False  # self-occluded or outside: stays hidden
    kp = np.full((t, j, 2), 50.0, np.float32)
    kp[:, 3] = [10.0, 20.0]
    occ = np.zeros((t, 100, 100), bool)
    occ[1, 15:25, 5:15] = True  # covers keypoint 3 in frame 1 only
    total = np.array([0, 0, 1], np.uint8)
    vis = true_visibility(rendered, kp, occ, total)
    assert not vis[0, 5] and vis[0, 3]
    assert not vis[1, 3] and vis[1].sum() == 13
    assert not vis[2].any()


def test_detector_randomisation_rates():
    legs = list(LEG_KEYPOINTS)
    others = [i for i in range(14) if i not in legs]
    clips = [detector_visibility(np.zeros((31, 14), bool), np.zeros(31, np.uint8), np.random.default_rng(s))
             for s in range(2000)]  # fmt: skip
    out = np.stack(clips)  # [clips, T, J]
    # hidden legs: unhidden in half the clips, then flipped with 0.05 -> 0.5*0.95 + 0.5*0.05 = 0.5
    assert abs(out[..., legs].mean() - 0.5) < 0.03
    assert abs(out[..., others].mean() - 0.05) < 0.005  # only flips
    shown = detector_visibility(np.ones((20000, 14), bool), np.zeros(20000, np.uint8), np.random.default_rng(1))
    assert abs(shown.mean() - 0.95) < 0.005


def test_hidden_legs_are_unhidden_together_and_for_the_whole_clip():
    """The paper unhides *all* leg keypoints with p = 0.5: one decision per clip, so a
    hidden leg does not flicker (before, each leg keypoint of each frame drew its own)."""
    legs = list(LEG_KEYPOINTS)
    hidden = np.zeros((31, 14), bool)
    total = np.zeros(31, np.uint8)
    shares = np.array([
        detector_visibility(hidden, total, np.random.default_rng(s))[:, legs].mean() for s in range(400)
    ])  # fmt: skip
    # per clip: all legs shown (bar the 5 % flips) or all hidden (bar the flips), never half
    assert ((shares > 0.85) | (shares < 0.15)).all()
    assert 0.4 < (shares > 0.5).mean() < 0.6
    # without flips, exactly all-or-nothing
    for s in range(20):
        legs_out = detector_visibility(hidden, total, np.random.default_rng(s), p_flip=0.0)[:, legs]
        assert legs_out.all() or not legs_out.any()


def test_totally_occluded_frames_stay_hidden_and_draws_are_seeded():
    vis = np.ones((31, 14), bool)
    total = np.zeros(31, np.uint8)
    total[5:12] = 1
    a = detector_visibility(vis, total, np.random.default_rng(3))
    assert not a[5:12].any()
    np.testing.assert_array_equal(a, detector_visibility(vis, total, np.random.default_rng(3)))
