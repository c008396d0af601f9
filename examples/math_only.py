"""The original 2-3-2 network on the circle regions, trained with only ``math`` and ``random``.

The "only math" edition the original author wished for: no NumPy and no scratchnn, just
lists of floats and explicit loops, so every multiplication of a training step is on the page
(``argparse``, ``csv`` and ``os`` only read the command line and the data file).

The network, and what each piece is in scratchnn (weights stored ``(out, in)`` as there:
``W[j][k]`` is Nielsen's w_jk, from unit k of the layer below to unit j of this one)::

    scratchnn                   here, for one example x with label y
    Dense(2, 3)                 z1[j] = Σ_k W1[j][k] x[k] + b1[j]
    Sigmoid()                   a1[j] = σ(z1[j])
    Dense(3, 2)                 z2[j] = Σ_k W2[j][k] a1[k] + b2[j]
    SoftmaxCrossEntropy()       p = softmax(z2), C = -log p[y], averaged over the batch
    SGD(lr)                     w ← w - lr · (1/m) Σ_batch ∂C/∂w

The hidden layer is a sigmoid, as in Nielsen's network; the output is a softmax with
cross-entropy, whose error is simply ``p - onehot(y)``. (A 3-unit ReLU layer can lose a unit
for good; a sigmoid unit only saturates.) Backward is Nielsen's BP1–BP4, each tagged where it
is computed. The initial weights follow Nielsen, w ~ N(0, 1/n_in) and b ~ N(0, 1), not
scratchnn's PyTorch-style default. tests/test_math_only.py holds a few SGD steps here equal to
scratchnn's float64 ones from the same start.

Data: ``seed-toy/circle_regions.csv`` under ``--data-dir`` (default ``$SCRATCHNN_DATA``), the
original author's 1,000 points; if that file is absent, 1,000 points from a seeded pure-Python
generator with ``scratchnn.datasets.circle_regions``'s distribution (not its numbers). It says
which it used; 800 points train, 200 test. An unlucky seed can stall in a poor local minimum
(``--seed 6`` on the generated points ends at 73.5 %). The best possible accuracy is about
89.5 %; on only 200 test points any accuracy is uncertain by about ±2 points (one std).

    python examples/math_only.py                # 300 epochs, about 3 s
    python examples/math_only.py --smoke        # 40 epochs, as the tests run it
"""

import argparse
import csv
import math
import os
import random


def sigmoid(z):
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)  # for z < 0 this form never overflows (exp(-z) would, past z = -709)
    return e / (1.0 + e)


def softmax(z):
    m = max(z)  # subtracting the max changes nothing mathematically and keeps exp finite
    e = [math.exp(zj - m) for zj in z]
    total = sum(e)
    return [ej / total for ej in e]


def dense(W, b, a):
    """z = W a + b, one output unit j at a time."""
    return [sum(W[j][k] * a[k] for k in range(len(a))) + b[j] for j in range(len(W))]


def init_network(rng, sizes=(2, 3, 2)):
    """Nielsen's initialisation: w_jk ~ N(0, 1/n_in), b_j ~ N(0, 1)."""
    net = {}
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        net[f"W{layer}"] = [
            [rng.gauss(0, 1 / math.sqrt(n_in)) for _ in range(n_in)] for _ in range(n_out)
        ]
        net[f"b{layer}"] = [rng.gauss(0, 1) for _ in range(n_out)]
    return net


def forward(net, x):
    a1 = [sigmoid(zj) for zj in dense(net["W1"], net["b1"], x)]
    p = softmax(dense(net["W2"], net["b2"], a1))
    return a1, p


def backward(net, grads, x, y, a1, p):
    """Add ∂C/∂(each weight and bias) of one example, C = -log p[y], into ``grads``."""
    # BP1: δ2 = ∂C/∂z2. Through softmax with cross-entropy this collapses to p - onehot(y).
    d2 = [p[j] - (1.0 if j == y else 0.0) for j in range(len(p))]
    # BP2: δ1 = (W2ᵀ δ2) ⊙ σ'(z1), and σ'(z1) = a1 (1 - a1).
    d1 = [
        sum(net["W2"][j][k] * d2[j] for j in range(len(d2))) * a1[k] * (1 - a1[k])
        for k in range(len(a1))
    ]
    for layer, delta, a_below in ((2, d2, a1), (1, d1, x)):
        for j in range(len(delta)):
            grads[f"b{layer}"][j] += delta[j]  # BP3: ∂C/∂b_j = δ_j
            for k in range(len(a_below)):
                grads[f"W{layer}"][j][k] += delta[j] * a_below[k]  # BP4: ∂C/∂w_jk = a_k δ_j


def zeros_like(net):
    return {
        name: [[0.0] * len(row) for row in v] if name[0] == "W" else [0.0] * len(v)
        for name, v in net.items()
    }


def sgd_step(net, grads, lr, m):
    """w ← w - (lr/m) Σ_batch ∂C/∂w: plain SGD on the batch-mean loss (Nielsen's update)."""
    for name, v in net.items():
        for j in range(len(v)):
            if name[0] == "W":
                for k in range(len(v[j])):
                    v[j][k] -= lr / m * grads[name][j][k]
            else:
                v[j] -= lr / m * grads[name][j]


def train_batch(net, batch, lr):
    """One SGD step on a list of (x, y) pairs; returns the batch-mean loss before the step."""
    grads, loss = zeros_like(net), 0.0
    for x, y in batch:
        a1, p = forward(net, x)  # 1. forward
        loss += -math.log(p[y])  # 2. loss
        backward(net, grads, x, y, a1, p)  # 3. backward (summed over the batch)
    sgd_step(net, grads, lr, len(batch))  # 4. step
    return loss / len(batch)


def predict(net, x):
    p = forward(net, x)[1]
    return max(range(len(p)), key=lambda j: p[j])


def accuracy(net, data):
    return sum(predict(net, x) == y for x, y in data) / len(data)


def generate_circles(n, rng):
    """Pure-Python circle_regions: radius N(0.5, 0.2²) for class 0, N(1.0, 0.2²) for class 1."""
    labels = [i % 2 for i in range(n)]
    rng.shuffle(labels)
    data = []
    for y in labels:
        angle, radius = rng.uniform(0, 2 * math.pi), rng.gauss(0.5 if y == 0 else 1.0, 0.2)
        data.append(([radius * math.cos(angle), radius * math.sin(angle)], y))
    return data


def load_circles(data_dir, rng):
    """The original author's CSV if ``data_dir`` holds it, else generated points; and a note."""
    path = os.path.join(data_dir or "", "seed-toy", "circle_regions.csv")
    if data_dir and os.path.exists(path):
        with open(path, newline="") as f:
            data = [([float(r["x"]), float(r["y"])], int(r["label"])) for r in csv.DictReader(f)]
        return data, f"read {len(data)} points from {path}"
    why = f"{path} not found" if data_dir else "no --data-dir and no $SCRATCHNN_DATA"
    return generate_circles(1000, rng), f"{why}: generated 1000 points with random.Random"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--smoke", action="store_true", help="40 epochs, for the tests")
    parser.add_argument("--data-dir", default=os.environ.get("SCRATCHNN_DATA"), metavar="DIR")
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    epochs = 40 if args.smoke else args.epochs

    rng = random.Random(args.seed)  # one seeded generator of our own; never the global one
    data, source = load_circles(args.data_dir, rng)
    print(f"data: {source}")
    rng.shuffle(data)
    train, test = data[: len(data) * 4 // 5], data[len(data) * 4 // 5 :]
    net = init_network(rng)
    for epoch in range(1, epochs + 1):
        rng.shuffle(train)  # a fresh permutation each epoch: every example once
        losses = [
            train_batch(net, train[i : i + args.batch_size], args.lr)
            for i in range(0, len(train), args.batch_size)
        ]
        print(f"epoch {epoch:3d}: mean batch loss {sum(losses) / len(losses):.4f}")
    acc, ones = accuracy(net, test), sum(y for _, y in test)
    chance = max(ones, len(test) - ones) / len(test)  # always guessing the commoner class
    print(f"test accuracy {acc:.4f} on {len(test)} points (chance {chance:.4f}, best ≈ 0.895)")
    return acc


if __name__ == "__main__":
    main()
