"""A variational autoencoder trained with the four-line loop written out.

The data are 8x8 binary images of random horizontal and vertical bars (no download needed);
the VAE learns to compress each into a 4-number code and to generate new bar images.
``vae.fit`` runs exactly this loop, with shuffling, History and callbacks around it.

    python examples/vae_explicit_loop.py            # full run
    python examples/vae_explicit_loop.py --smoke    # a few steps, as the tests run it
"""

from __future__ import annotations

import argparse

import numpy as np

import scratchnn as snn
from scratchnn.models import VAE


def bars(n: int, rng: np.random.Generator, size: int = 8) -> np.ndarray:
    """``n`` images, each with every row and every column lit with probability 1/size."""
    rows = rng.random((n, size, 1)) < 1 / size
    cols = rng.random((n, 1, size)) < 1 / size
    return (rows | cols).reshape(n, size * size).astype(np.float32)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--smoke", action="store_true", help="tiny run for the tests")
    args = parser.parse_args(argv)
    epochs = 2 if args.smoke else args.epochs

    rng = np.random.default_rng(0)
    X_train, X_test = bars(500 if args.smoke else 5000, rng), bars(500, rng)
    vae = VAE(input_dim=64, hidden=(64,), latent_dim=4, rng=rng)
    loss = vae.loss()  # negative ELBO = reconstruction + KL, nats per image
    optimizer = snn.Adam(lr=1e-3)

    print(f"before training: test negative ELBO {vae.evaluate(X_test).neg_elbo:.2f} nats")
    for epoch in range(epochs):
        for Xb, _ in snn.batches(X_train, X_train, batch_size=64, rng=rng):
            outputs = vae.forward(Xb)  # forward: (logits, mu, logvar), ε drawn and kept
            value, grads = loss(outputs, Xb)  # loss: the target is the input itself
            vae.backward(grads, input_grad=False)  # backward: decoder, z = μ + σε, both heads
            optimizer.step(vae.parameters())  # step over unique (name, param, grad)
        if epoch % 10 == 9 or epoch == epochs - 1:
            ev = vae.evaluate(X_test)
            print(
                f"epoch {epoch + 1}: test negative ELBO {ev.neg_elbo:.2f} "
                f"(reconstruction {ev.recon:.2f} + KL {ev.kl:.2f})"
            )

    nll = -vae.log_likelihood(X_test, k=100, rng=rng).mean()
    print(f"importance-weighted estimate of -log p(x), k = 100: {nll:.2f} nats per image")
    new = vae.sample(3, rng=rng).reshape(3, 8, 8)
    print("three samples from the prior (pixels with p > 0.5):")
    for row in range(8):
        print("   ".join("".join("#" if p > 0.5 else "." for p in img[row]) for img in new))
    return float(nll)


if __name__ == "__main__":
    main()
