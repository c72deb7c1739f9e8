import numpy as np
import pytest

from synth.cameras import Camera, frame_person, look_at
from synth.render import Renderer


@pytest.fixture(scope="module")
def scene(anny_body, walk):
    clip = walk.slice(0, 12)
    out = clip.posed(anny_body)
    verts, joints = out.vertices.numpy(), out.eval_joints.numpy()
    cam = frame_person(joints, 320, 240, azimuth_deg=(40, 40), elevation_deg=(10, 10), fill=0.9)
    colors = np.full((verts.shape[1], 3), 180, np.uint8)
    with Renderer(320, 240) as r:
        res = r.render(verts, anny_body.faces.numpy(), colors, joints, cam, motion_field=True)
    return verts, joints, cam, res


def test_outputs_contract(scene):
    verts, joints, cam, res = scene
    t = len(verts)
    assert res.rgba.shape == (t, 240, 320, 4) and res.rgba.dtype == np.uint8
    assert res.depth.shape == (t, 240, 320) and res.depth.dtype == np.float32
    assert res.mask.dtype == bool and res.mask.any(axis=(1, 2)).all()
    assert (res.rgba[..., 3][res.mask] == 255).all() and (res.rgba[..., 3][~res.mask] == 0).all()
    assert res.joints_2d.shape == (t, 14, 2) and res.joints_visible.shape == (t, 14)
    assert res.motion_field.shape == (t - 1, 240, 320, 2)
    assert np.allclose(res.K, cam.K) and res.R.shape == (t, 3, 3) and res.t.shape == (t, 3)
    # Metric depth: the person stands at the camera's distance from them.
    dist = np.linalg.norm(cam.center - joints[0].mean(0))
    assert abs(np.median(res.depth[0][res.mask[0]]) - dist) < 0.5


def test_geometry_matches_projection(scene):
    """The rendered silhouette and the pinhole projection agree to within a pixel."""
    verts, _, cam, res = scene
    uv, _ = cam.project(verts[0])
    px = np.rint(uv).astype(int)
    mask = res.mask[0]
    # Vertices land on the silhouette, give or take a pixel (sub-pixel fingers and
    # silhouette edges): dilate the mask by one pixel.
    import scipy.ndimage

    grown = scipy.ndimage.binary_dilation(mask, np.ones((3, 3), bool))
    assert grown[px[:, 1], px[:, 0]].mean() > 0.99
    ys, xs = np.nonzero(mask)
    assert abs(xs.min() - uv[:, 0].min()) < 1.5 and abs(xs.max() - uv[:, 0].max()) < 1.5
    assert abs(ys.min() - uv[:, 1].min()) < 1.5 and abs(ys.max() - uv[:, 1].max()) < 1.5


def test_visible_joints_inside_silhouette(scene):
    _, _, _, res = scene
    px = np.rint(res.joints_2d).astype(int)
    t_idx = np.arange(len(px))[:, None].repeat(px.shape[1], 1)
    vis = res.joints_visible
    inside = res.mask[t_idx[vis], px[vis][:, 1], px[vis][:, 0]]
    assert vis.mean() > 0.5 and inside.mean() >= 0.95


def test_self_occlusion_hides_far_side_joints(anny_body):
    """Seen exactly from the side, the far arm's wrist is >= 20 cm behind the torso."""
    out = anny_body.rest(anny_body.default_shape(1))
    verts, joints = out.vertices.numpy(), out.eval_joints.numpy()
    cam = Camera.from_fov(40, 320, 240).with_pose(*look_at([4.0, 0.0, 0.0], [0.0, 0.0, 0.0]))
    with Renderer(320, 240) as r:
        res = r.render(verts, anny_body.faces.numpy(), np.full((verts.shape[1], 3), 200, np.uint8), joints, cam)
    vis = res.joints_visible[0]
    # Camera on +X (the body's left): left joints visible, right shoulder/hip hidden.
    assert vis[[3, 9]].all()  # l_hip, l_shoulder
    assert not vis[[2, 8]].any()  # r_hip, r_shoulder


def test_motion_field_warps_mask(scene):
    """Forward-warping frame t's mask by the ground-truth motion lands on frame t+1's."""
    _, _, _, res = scene
    for t in range(len(res.mask) - 1):
        ys, xs = np.nonzero(res.mask[t])
        f = res.motion_field[t, ys, xs]
        x1 = np.rint(xs + f[:, 0]).astype(int).clip(0, 319)
        y1 = np.rint(ys + f[:, 1]).astype(int).clip(0, 239)
        warped = np.zeros_like(res.mask[t])
        warped[y1, x1] = True
        inter = (warped & res.mask[t + 1]).sum()
        union = (warped | res.mask[t + 1]).sum()
        moved = np.abs(f).max()
        assert moved > 0.5  # the body really moves between frames
        assert inter / union >= 0.9, (t, inter / union)
        assert (res.motion_field[t][~res.mask[t]] == 0).all()


def test_render_is_deterministic(anny_body, walk):
    out = walk.slice(0, 2).posed(anny_body)
    verts, joints = out.vertices.numpy(), out.eval_joints.numpy()
    cam = frame_person(joints, 160, 120)
    colors = np.full((verts.shape[1], 3), 150, np.uint8)
    with Renderer(160, 120) as r:
        a = r.render(verts, anny_body.faces.numpy(), colors, joints, cam)
        b = r.render(verts, anny_body.faces.numpy(), colors, joints, cam)
    assert np.array_equal(a.rgba, b.rgba) and np.array_equal(a.depth, b.depth)


def test_bad_inputs(anny_body):
    with Renderer(64, 48) as r, pytest.raises(ValueError, match="expected vertices"):
        r.render(np.zeros((2, 5, 3)), np.zeros((1, 3), int), np.zeros((4, 3), np.uint8), np.zeros((2, 14, 3)),
                 Camera.from_fov(50, 64, 48))
