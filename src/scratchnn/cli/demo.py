"""``scratchnn demo``: small networks on the two toy problems of the original project."""

from __future__ import annotations

import argparse
import time

from .. import __version__


def _demo(args: argparse.Namespace) -> int:
    from ..datasets import circle_regions, square_regions
    from ..models import mlp
    from ..optimizers import Adam
    from ..preprocessing import train_test_split

    print(f"scratchnn {__version__} demo: two toy problems from the original project\n")
    rows = []
    for name, make, best in (("circle", circle_regions, 0.895), ("square", square_regions, 0.955)):
        X, y = make(4000, seed=args.seed)
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.5, seed=args.seed)
        # A 3-unit ReLU layer often loses a unit for good (a "dead" ReLU) and stalls at ~72 %,
        # which is what the original project saw; tanh units cannot die.
        for hidden, activation in (((3,), "tanh"), ((16, 16), "relu")):
            model = mlp((2, *hidden, 2), activation=activation, rng=args.seed)
            start = time.perf_counter()
            model.fit(
                X_tr,
                y_tr,
                loss="ce",
                optimizer=Adam(lr=0.01),
                epochs=args.epochs,
                batch_size=32,
                seed=args.seed,
                verbose=0,
            )
            seconds = time.perf_counter() - start
            acc = model.evaluate(X_te, y_te).accuracy
            arch = "2-" + "-".join(map(str, hidden)) + f"-2 {activation}"
            rows.append((name, arch, acc, best, seconds))
    print(f"{'dataset':<8} {'network':<15} {'test acc.':>9} {'best possible':>13} {'seconds':>8}")
    for name, arch, acc, best, seconds in rows:
        print(f"{name:<8} {arch:<15} {acc:>9.1%} {best:>13.1%} {seconds:>8.2f}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="train small networks on the two toy problems")
    demo.add_argument("--epochs", type=int, default=30, help="epochs per network (default 30)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.set_defaults(func=_demo)
