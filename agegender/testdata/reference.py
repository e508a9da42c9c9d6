"""An independent NumPy computation of face-api.js's age and gender network.

It is the reference of agegender's faithfulness test and shares nothing with the Go package:
its own reading of the TensorFlow.js manifest, float64 arithmetic throughout, and convolutions
written as sums of shifted slices over TensorFlow's explicitly padded inputs.

    python3 reference.py MANIFEST SHARD < crops

reads 112x112 RGB crops from stdin (112*112*3 bytes each, row-major R G B) and prints, for each,
one line: age, probability of male, probability of female (%.9g).
"""
import json
import sys

import numpy as np

SIZE = 112
MEAN = np.array([122.782, 117.001, 104.298])


def read_weights(manifest_path, shard_path):
    with open(manifest_path) as f:
        groups = json.load(f)
    with open(shard_path, "rb") as f:
        raw = f.read()
    tensors, pos = {}, 0
    for group in groups:
        for entry in group["weights"]:
            count = int(np.prod(entry["shape"]))
            q = entry.get("quantization")
            if q is None:
                values = np.frombuffer(raw, dtype="<f4", count=count, offset=pos).astype(np.float64)
                pos += 4 * count
            elif q["dtype"] == "uint8":
                values = q["min"] + np.frombuffer(raw, dtype=np.uint8, count=count, offset=pos) * q["scale"]
                pos += count
            elif q["dtype"] == "uint16":
                values = q["min"] + np.frombuffer(raw, dtype="<u2", count=count, offset=pos) * q["scale"]
                pos += 2 * count
            elif q["dtype"] == "float16":
                values = np.frombuffer(raw, dtype="<f2", count=count, offset=pos).astype(np.float64)
                pos += 2 * count
            else:
                raise ValueError("unknown quantization " + q["dtype"])
            tensors[entry["name"]] = values.reshape(entry["shape"])
    if pos != len(raw):
        raise ValueError("shard has %d bytes, manifest describes %d" % (len(raw), pos))
    return tensors


def same_pad(x, k, stride, value=0.0):
    """Pads an HxWxC map as TensorFlow's "same" padding does for a k x k window."""
    pads = []
    for n in x.shape[:2]:
        out = -(-n // stride)
        total = max((out - 1) * stride + k - n, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, pads + [(0, 0)], constant_values=value), [-(-n // stride) for n in x.shape[:2]]


def conv(x, filters, bias, stride):
    """A convolution with filters [k, k, in, out] and "same" padding, plus bias."""
    k = filters.shape[0]
    xp, (oh, ow) = same_pad(x, k, stride)
    out = np.zeros((oh, ow, filters.shape[3]))
    for dy in range(k):
        for dx in range(k):
            window = xp[dy:dy + stride * (oh - 1) + 1:stride, dx:dx + stride * (ow - 1) + 1:stride, :]
            out += np.tensordot(window, filters[dy, dx], axes=([2], [0]))
    return out + bias


def separable(x, t, prefix):
    depthwise = t[prefix + "/depthwise_filter"]
    xp, (oh, ow) = same_pad(x, 3, 1)
    out = np.zeros_like(x)
    for dy in range(3):
        for dx in range(3):
            out += xp[dy:dy + oh, dx:dx + ow, :] * depthwise[dy, dx, :, 0]
    pointwise = t[prefix + "/pointwise_filter"][0, 0]
    return out @ pointwise + t[prefix + "/bias"]


def max_pool(x):
    xp, (oh, ow) = same_pad(x, 3, 2, value=-np.inf)
    out = np.full((oh, ow, x.shape[2]), -np.inf)
    for dy in range(3):
        for dx in range(3):
            out = np.maximum(out, xp[dy:dy + 2 * (oh - 1) + 1:2, dx:dx + 2 * (ow - 1) + 1:2, :])
    return out


def relu(x):
    return np.maximum(x, 0)


def reduction(x, t, prefix, activate_input=True):
    out = relu(x) if activate_input else x
    out = separable(out, t, prefix + "/separable_conv0")
    out = separable(relu(out), t, prefix + "/separable_conv1")
    out = max_pool(out)
    return out + conv(x, t[prefix + "/expansion_conv/filters"], t[prefix + "/expansion_conv/bias"], 2)


def main_block(x, t, prefix):
    out = separable(relu(x), t, prefix + "/separable_conv0")
    out = separable(relu(out), t, prefix + "/separable_conv1")
    out = separable(relu(out), t, prefix + "/separable_conv2")
    return out + x


def forward(rgb, t):
    x = (rgb.astype(np.float64) - MEAN) / 256.0
    x = relu(conv(x, t["entry_flow/conv_in/filters"], t["entry_flow/conv_in/bias"], 2))
    x = reduction(x, t, "entry_flow/reduction_block_0", activate_input=False)
    x = reduction(x, t, "entry_flow/reduction_block_1")
    x = main_block(x, t, "middle_flow/main_block_0")
    x = main_block(x, t, "middle_flow/main_block_1")
    x = reduction(x, t, "exit_flow/reduction_block")
    x = relu(separable(x, t, "exit_flow/separable_conv"))
    if x.shape[:2] != (7, 7):
        raise ValueError("exit map is %s, want 7x7" % (x.shape[:2],))
    pooled = x.mean(axis=(0, 1))  # a 7x7 "valid" average pool of stride 2 on a 7x7 map
    age = pooled @ t["fc/age/weights"][:, 0] + t["fc/age/bias"][0]
    logits = pooled @ t["fc/gender/weights"] + t["fc/gender/bias"]
    e = np.exp(logits - logits.max())
    p = e / e.sum()
    return age, p[0], p[1]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: reference.py MANIFEST SHARD < crops")
    t = read_weights(sys.argv[1], sys.argv[2])
    data = sys.stdin.buffer.read()
    n = SIZE * SIZE * 3
    if len(data) % n:
        sys.exit("stdin holds %d bytes, not a whole number of %d-byte crops" % (len(data), n))
    for i in range(len(data) // n):
        rgb = np.frombuffer(data, dtype=np.uint8, count=n, offset=i * n).reshape(SIZE, SIZE, 3)
        age, male, female = forward(rgb, t)
        print("%.9g %.9g %.9g" % (age, male, female))


if __name__ == "__main__":
    main()
