#!/usr/bin/env bash
# faces128 with a wider generator and discriminator (width 48: 1.5x faces128's channels, about
# 2.3 s an iteration on one CPU thread), the candidate to replace the shipped width-32 faces128,
# whose quality stopped rising with training (docs/quality-vs-training-faces128.png). Trained on
# the CPU in the background across sessions by configs/faces128.sh's recipe: each session resumes
# its run folder or, where that is gone, continues from the latest export kept in runs-keep/;
# before a session ends, configs/faces128-wide-keep.sh exports the latest checkpoint there.
# Nothing ships from it until its evaluation beats faces128's: from 3,000 to 5,250 iterations it
# is about 0.3 dB past width 32's plateau in hole PSNR (docs/quality-vs-training-faces128w48.png),
# but the CNN judge still finds its samples far more often (runs-keep's card); then its encoder
# of z (configs/faces128.sh's ENC part) and a file without D to fit the size budget (issue 25).
#   nice -n 10 bash configs/faces128-wide.sh          # OMP_NUM_THREADS=1 by default
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
NAME=faces128w48 WIDTH=48 STEPS=${STEPS:-30000} ENC_STEPS=0 exec bash "$(dirname "$0")/faces128.sh"
