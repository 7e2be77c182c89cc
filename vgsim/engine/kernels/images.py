"""The image nodes of a plan: convolution, pooling, flatten and dropout, forward and backward.

The step kernel (plan.py) hands each of these nodes its flat input and output blocks; the node's
geometry sits in the columns of its `ops` row listed here (a flat vector of w values is a
1 × 1 × w image, so batch norm can read its channels the same way for both).
"""

from numba import njit

from .arrays import add_scaled, copy_into
from .conv import conv_backward, conv_forward
from .dropout import dropout_backward, dropout_forward, dropout_key
from .pool import (
    avgpool_backward,
    avgpool_forward,
    global_avgpool_backward,
    global_avgpool_forward,
    maxpool_backward,
    maxpool_forward,
)

# Node kinds after plan.py's INPUT, DENSE, ACT, BATCHNORM and OUTPUT.
CONV, MAXPOOL, AVGPOOL, GLOBAL_AVGPOOL, FLATTEN, DROPOUT = range(5, 11)
# Columns of `ops` after plan.py's: input height, width, channels; output height, width,
# channels; kernel (or window) size, stride, padding before the first pixel; where in `aux` the
# node keeps what its backward pass needs (conv: the padded input; max pool: where each maximum
# came from; dropout: the mask); where the convolutions' shared scratch starts; and
# how many weights the l2 penalty covers.
(K_H, K_W, K_C, K_OH, K_OW, K_OC, K_SIZE, K_STRIDE, K_PAD, K_KEEP, K_SCRATCH, K_NW) = range(26, 38)
N_COLS = 38
_opts = {"cache": True, "nogil": True}


@njit(**_opts)
def image_forward(kind, geo, xf, yf, params, pw, pb, aux, n, rate, t, seed, node):
    """Node output yf from input xf (each n samples). `geo`: the node's ops row; `pw`, `pb`:
    its weights' and bias's offsets in params (pb < 0: no bias); `t`: the step number in
    training (its dropout masks), 0 in evaluation; `rate`: dropout's rate."""
    h, w, c = geo[K_H], geo[K_W], geo[K_C]
    oh, ow, oc = geo[K_OH], geo[K_OW], geo[K_OC]
    size, stride = geo[K_SIZE], geo[K_STRIDE]
    keep = aux[geo[K_KEEP] :]
    if kind == CONV:
        W = params[pw : pw + size * size * c * oc]
        b = params[pb : pb + oc] if pb >= 0 else params[0:0]
        scratch = aux[geo[K_SCRATCH] :]
        conv_forward(
            xf, W, b, pb >= 0, yf, keep, scratch, n, h, w, c, oh, ow, oc, size, stride, geo[K_PAD]
        )
    elif kind == MAXPOOL:
        maxpool_forward(xf, yf, keep, n, h, w, c, oh, ow, size, stride)
    elif kind == AVGPOOL:
        avgpool_forward(xf, yf, n, h, w, c, oh, ow, size, stride)
    elif kind == GLOBAL_AVGPOOL:
        global_avgpool_forward(xf, yf, n, h * w, c)
    elif kind == DROPOUT and t > 0:
        dropout_forward(xf, yf, keep[: xf.size], rate, dropout_key(seed, t, node))
    else:  # flatten, and dropout in evaluation: the values themselves
        copy_into(yf, xf)


@njit(**_opts)
def image_backward(kind, geo, xf, dyf, dxf, need_dx, params, pgrads, pw, pb, aux, n, l2):
    """Gradients for the node's input dxf (if need_dx) and its parameters from dyf at its
    output; `l2`: the penalty's lambda (it covers convolution weights as dense ones)."""
    h, w, c = geo[K_H], geo[K_W], geo[K_C]
    oh, ow, oc = geo[K_OH], geo[K_OW], geo[K_OC]
    size, stride = geo[K_SIZE], geo[K_STRIDE]
    keep = aux[geo[K_KEEP] :]
    if kind == CONV:
        nw = size * size * c * oc
        has_bias = pb >= 0
        conv_backward(
            xf,
            params[pw : pw + nw],
            dyf,
            pgrads[pw : pw + nw],
            pgrads[pb : pb + oc] if has_bias else pgrads[0:0],
            has_bias,
            dxf,
            need_dx,
            keep,
            aux[geo[K_SCRATCH] :],
            n,
            h,
            w,
            c,
            oh,
            ow,
            oc,
            size,
            stride,
            geo[K_PAD],
        )
        if l2 > 0:
            add_scaled(pgrads[pw : pw + nw], 2 * l2, params[pw : pw + nw])
        return
    if not need_dx:
        return
    if kind == MAXPOOL:
        maxpool_backward(dyf, keep, dxf, n, h, w, c, oh, ow, size, stride)
    elif kind == AVGPOOL:
        avgpool_backward(dyf, dxf, n, h, w, c, oh, ow, size, stride)
    elif kind == GLOBAL_AVGPOOL:
        global_avgpool_backward(dyf, dxf, n, h * w, c)
    elif kind == DROPOUT:
        dropout_backward(dyf, keep[: dyf.size], dxf)
    else:
        copy_into(dxf, dyf)
