"""The body pass of a training step: joints of N predicted poses, forward + backward.

    .venv/bin/python bench/bench_body.py [--poses 480] [--threads 2] [--reps 5]

480 poses is one step of the CPU kp recipe at batch 8 (8 clips x 30 steps x 2 heads).
Rows (Anny, cmu_mb rig; every row gives the same joints):

  mesh forward      ``body(...)``: Anny's full forward, skinning the 13,718-vertex mesh
  coefficient path  ``body.joints`` through Anny's phenotype -> 624 blendshape products
  table path        ``body.joints`` as trained: rest bones interpolated from the anchor
                    table (synth.bodies.anny_body), the default
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(fn, reps: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--poses", type=int, default=480)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args(argv)

    import roma
    import torch

    from synth.bodies.anny_body import AnnyBody

    torch.set_num_threads(args.threads)
    body = AnnyBody()
    n, j = args.poses, body.skeleton.num_joints
    g = torch.Generator().manual_seed(0)
    rot = roma.rotvec_to_rotmat(torch.randn(n, j, 3, generator=g) * 0.5).requires_grad_(True)
    shape = torch.rand(n, body.shape_dim, generator=g).requires_grad_(True)
    zero = torch.zeros(n, 3)

    def mesh():
        body(rot[:, 1:], shape, rot[:, 0], zero).joints.sum().backward()

    def joints():
        body.joints(rot[:, 1:], shape, rot[:, 0], zero).sum().backward()

    rows = {"mesh forward": timed(mesh, max(1, args.reps // 2))}
    assert body._bone_table() is not None
    table = body._table
    body._table, body._table_failed = None, True
    rows["coefficient path"] = timed(joints, args.reps)
    body._table, body._table_failed = table, False
    rows["table path (default)"] = timed(joints, args.reps)
    base = rows["table path (default)"]
    print(f"| body pass, {n} poses, fwd+bwd, {args.threads} thread(s) | s | vs table path |\n|---|---|---|")
    for name, s in rows.items():
        print(f"| {name} | {s:.3f} | {s / base:.1f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
