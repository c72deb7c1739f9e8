"""Flow backends: pairs/s at 224x224 and EPE against ground truth; the codec's error.

    LP_NUM_THREADS=1 OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python bench/bench_flow.py \\
        --ptlflow-untrained flownets,flownetc,flownet2,raft_small,raft,pwcnet,fastflownet

Any ``flow bench`` option works (``--ptlflow raft=/ckpt/raft-things.ckpt --device cuda`` on
a GPU). ptlflow models with random weights get a speed figure only.
"""

import sys

from flow.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
