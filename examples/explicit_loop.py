"""The four-line training loop, written out: forward, loss, backward, step.

``model.fit`` runs exactly this loop (plus shuffling, validation and bookkeeping).

    python examples/explicit_loop.py            # full run
    python examples/explicit_loop.py --smoke    # a few steps, as the tests run it
"""

from __future__ import annotations

import argparse

import numpy as np

import scratchnn as snn


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--smoke", action="store_true", help="tiny run for the tests")
    args = parser.parse_args(argv)
    epochs = 2 if args.smoke else args.epochs

    rng = np.random.default_rng(0)
    X, y = snn.datasets.square_regions(400 if args.smoke else 4000, rng=rng)
    X_train, X_test, y_train, y_test = snn.train_test_split(X, y, test_size=0.25, rng=rng)
    X_train = X_train.astype(np.float32)

    model = snn.Sequential(
        snn.Dense(2, 16, init="he_normal", rng=rng),
        snn.ReLU(),
        snn.Dense(16, 16, init="he_normal", rng=rng),
        snn.ReLU(),
        snn.Dense(16, 2, rng=rng),
    )
    loss = snn.SoftmaxCrossEntropy()
    optimizer = snn.Adam(lr=0.01)

    for epoch in range(epochs):
        for Xb, yb in snn.batches(X_train, y_train, batch_size=32, rng=rng):
            logits = model.forward(Xb)  # 1. forward
            value, dlogits = loss(logits, yb)  # 2. loss and its gradient
            model.backward(dlogits)  # 3. backward: sets every layer's grads
            optimizer.step(model.parameters())  # 4. step
        if epoch % 10 == 9 or epoch == epochs - 1:
            print(f"epoch {epoch + 1:3d}: last batch loss {value:.4f}")

    accuracy = model.evaluate(X_test, y_test).accuracy
    print(f"test accuracy {accuracy:.1%} (best possible ≈ 95.5 %)")
    return accuracy


if __name__ == "__main__":
    main()
