#!/usr/bin/env bash
# Remake the model that ships with the suite, motionhmr/weights/kp.pt (its card:
# motionhmr/weights/MODEL_CARD.md), from open data only:
#   1. 2,400 clips of the 56 CMU clips as CMU distributes them converted to BVH, and 1,200
#      clips of 142 more CMU clips in the widely used "Daz-friendly" BVH conversion, both
#      on the embedded Anny body and real PyPI videos (synth generate; resumable);
#   2. Motion-HMR inputs=kp with the keypoint encoder, 6,000 steps x 16 clips (the CPU
#      recipe of the README) with detector-style keypoint noise (data.kp_offset_px=4,
#      data.kp_jitter_px=1.5); a rerun resumes;
#   3. motionhmr export -> motionhmr/weights/kp.pt (float16, inference only);
#   4. its figures on the held-out synthetic clips and on Pose2Sim's 4-camera demo.
# ~2.5 h on a 2-core CPU box (generation ~50 min, training ~65 min), no GPU.
#
#   CMU_BVH=DIR CMU_DAZ_BVH=DIR WORK=ship WORKERS=2 bash jobs/ship_model.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash jobs/setup.sh
CMU_BVH="${CMU_BVH:-../shared/data/cmu_bvh}"
CMU_DAZ_BVH="${CMU_DAZ_BVH:-../shared/data/cmu_daz_bvh}"
WORK="${WORK:-ship}"
WORKERS="${WORKERS:-$(nproc)}"
for dir in "$CMU_BVH" "$CMU_DAZ_BVH"; do
  [ -d "$dir" ] || { echo "jobs/ship_model.sh: $dir is not a folder of CMU .bvh files (set CMU_BVH / CMU_DAZ_BVH)" >&2; exit 2; }
done
.venv/bin/synth generate --n 2400 --out "$WORK/shards_cmu" --workers "$WORKERS" --per-shard 50 \
  motion=cmu_bvh "motion.path=$CMU_BVH" motion.clip=all
.venv/bin/synth generate --n 1200 --out "$WORK/shards_daz" --workers "$WORKERS" --per-shard 50 \
  motion=cmu_bvh "motion.path=$CMU_DAZ_BVH" motion.clip=all
.venv/bin/motionhmr train inputs=kp "data=$WORK/shards_cmu,$WORK/shards_daz" "out=$WORK/run_kp" \
  model.encoder=keypoints model.lstm_hidden=256 model.head_hidden=512 data.batch_size=16 data.workers=1 \
  optim.lr=1e-3 optim.warmup=200 optim.steps=6000 val_every=500 val_batches=8 data.kp_offset_px=4 \
  data.kp_jitter_px=1.5 wandb.mode=disabled
.venv/bin/motionhmr export "$WORK/run_kp/last.pt" motionhmr/weights/kp.pt
.venv/bin/motionhmr eval ckpt=motionhmr/weights/kp.pt data=synthetic "data.path=$WORK/shards_cmu"
.venv/bin/motionhmr eval ckpt=motionhmr/weights/kp.pt data=multiview data.path=embedded
.venv/bin/motionhmr eval ckpt=motionhmr/weights/kp.pt data=multiview data.path=embedded refine=true
