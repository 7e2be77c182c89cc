"""The diagnosis' thresholds, each with what it was measured on.

Tuned on the healthy/broken set of benchmarks/diagnosis_set.py (spiral, moons, circles, xor,
blobs, sine and digits data; seeds 0-4; checked every 100 steps up to each network's steps).
"Healthy" = ReLU/He, leaky ReLU, ELU, SELU, tanh/Xavier, residual, batch-norm, Adam and
momentum networks of depth 2-56 that train, the shipped examples and the lessons' fixes. The
gradient ratios are per-unit gradients, lower layer over higher layer, medians over the window.
"""

from __future__ import annotations

# Steps the per-layer medians are taken over: enough to outvote a few odd mini-batches, short
# enough that a finding follows a live change (a new learning rate) within one batch of steps.
WINDOW = 50
# Recorded steps needed before the window's rules speak: a median of fewer is one batch's
# noise. After a divergence every step there is counts, as no more will come.
MIN_STEPS = 5
# Vanishing: a lower hidden layer receives less than this fraction of the gradient a higher one
# receives, three orders of magnitude. Healthy: never below 0.04 (a 3-layer sigmoid/Xavier
# network; 0.58 for the ReLU/He, tanh/Xavier and residual presets). Broken: 8-layer sigmoid
# with "standard" init 1e-6 to 2e-6, tiny (std 0.01) init 1e-12 to 6e-11.
VANISH_RATIO = 1e-3
# Exploding: the mirror image, a lower layer receiving 1000x the gradient of a higher one.
# Healthy: at most 69 (batch-norm sigmoid, Adam; 27 for the presets). Broken: 2.7e3 to 2e4
# (He init x2, 10 layers), 1.8e9 to 8e9 (normal std 3, 10 layers).
EXPLODE_RATIO = 1e3
# Weights "barely change" when the lowest starved layer's update-to-weight ratio is below this
# fraction of the layer it is compared with (added to the vanishing evidence only; the deep
# sigmoid network shows 9e-9 against 1e-2).
STILL_WEIGHTS_RATIO = 1e-2
# The loss "stagnates" when its median over the second half of the last LOSS_WINDOW steps is
# less than this fraction below the first half's (added to the vanishing evidence only). The
# whole-training-set loss of a stuck deep sigmoid network wobbles by about 3% around ln 3 from
# one evaluation to the next, so the halves span 100 steps each and the bar is 2%.
STAGNANT_LOSS_CHANGE = 0.02
LOSS_WINDOW = 200
# Exponential growth in the parameters: a layer's weight norm, fitted as exp(a + b * step) over
# the window, multiplies by more than this. Healthy: at most 1.2x per window. Broken: 127x
# (tanh, lr 5, the weights running into saturation) to 1e14 in the steps before a blow-up.
WEIGHT_GROWTH = 10.0
# The same fit on the global gradient norm (before clipping). It swings 10-100x between
# mini-batches: healthy fits reached 49x (Adam). Before a blow-up: 2e4 to 7e14.
GRAD_GROWTH = 1e3
# Points needed before a growth fit means anything.
MIN_FIT_POINTS = 3
# A global gradient norm (before clipping) beyond this median is "huge": the losses are means
# over the batch, so healthy medians stay at 0.01 to 13. Broken: 3e4 to 9e10.
HUGE_GRAD_NORM = 1e3
# A sigmoid/tanh layer is saturated when more than half its outputs sit where the derivative is
# under a tenth of its peak (the kernel's `saturated` figure). Healthy: at most 0.23. Broken:
# 0.74 to 0.83 (tanh, normal std 1), 1.0 (tanh, lr 5).
SATURATED_FRACTION = 0.5
# A ReLU layer is dying when more than half its units output 0 for every sample of the batch.
# Healthy 8-layer networks: at most 0.34. Broken: 1.0 (bias -3), 0.56 to 1 (lr 2). Deeper He
# networks come close: 16 layers showed up to 0.53 in their first 20 steps, and 53% of the top
# layer's units were indeed dead on the whole training set at initialisation.
DEAD_FRACTION = 0.5

# --- is it learning? ------------------------------------------------------------------------
# Not learning: after LEARN_STEPS steps, the median mini-batch loss over the last LOSS_WINDOW
# steps is still above NEAR_CHANCE times the chance level (the loss of predicting the class
# frequencies, ln k for k balanced classes, or the mean target: the targets' variance for MSE).
LEARN_STEPS = 500
NEAR_CHANCE = 0.85
# A network that does not learn because its learning rate is too small: every layer's weights
# move by less than this fraction of their size per step (median over the window). Healthy:
# at least 5.7e-5 (lesson 2's He-init fix, lr 3e-4); lr 1e-6: at most 1.0e-6.
SMALL_UPDATE = 1e-5
# Learning rate too high, while the loss stands above the chance level (a network doing well
# swings between tiny losses, which is no sign of trouble), any of:
# - the loss (median of the last JUMP_BLOCK mini-batches) stands RISE_RATIO times above the
#   chance level or the loss at initialisation, whichever is higher;
# - it jumped JUMP_RATIO-fold above its lowest level (medians over blocks of JUMP_BLOCK steps)
#   of the last JUMP_SPAN steps;
# - the mini-batch loss swings SWING_RATIO-fold (90th over 10th percentile, last WINDOW steps).
JUMP_BLOCK = 25
JUMP_SPAN = 1000
RISE_RATIO = 10.0
JUMP_RATIO = 10.0
SWING_RATIO = 10.0

# The most steps any rule looks back over: the rest of a run's history changes nothing. The
# per-node figures are read over fewer: the last WINDOW steps before a divergence, whose step
# is the newest.
# Overfitting: the training-set loss (last evaluation) is below MEMORISED times the chance
# level, yet the test-set loss is above the chance level: the rows it trained on are learnt by
# heart and new ones are predicted worse than by guessing the class frequencies.
MEMORISED = 0.1

KEEP_STEPS = max(WINDOW, LOSS_WINDOW, JUMP_SPAN)
STATS_STEPS = WINDOW + 1
