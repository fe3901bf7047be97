"""The ``fastnn`` command line.

``fastnn demo`` trains a small network on the embedded 8x8 digits with the
fused kernels of ``fastnn.ops`` and reports train/dev/test accuracy.
"""
import argparse
import sys
import time

import numpy as np


def _demo(args):
    from tqdm import tqdm

    import fastnn
    from fastnn import ops
    from fastnn.datasets import load_digits

    if args.threads is not None:
        fastnn.set_num_threads(args.threads)
    X, y = load_digits(np.float32)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(X))
    n_dev = n_test = len(X) // 6
    test, dev, train = order[:n_test], order[n_test:n_test + n_dev], order[n_test + n_dev:]
    X_train, y_train = X[train], y[train]

    # He initialisation for the ReLU layer, Xavier for the softmax layer
    sizes = [X.shape[1], args.hidden, 10]
    params = []
    for n_in, n_out, gain in zip(sizes[:-1], sizes[1:], (2.0, 1.0)):
        W = (rng.standard_normal((n_in, n_out)) * np.sqrt(gain / n_in)).astype(np.float32)
        params.append([W, np.zeros(n_out, np.float32)])
    velocity = [[np.zeros_like(p) for p in layer] for layer in params]

    def forward(Xb, keep_z):
        Z1, A1 = ops.dense_forward(Xb, params[0][0], params[0][1], "relu", keep_z=keep_z)
        Z2, _ = ops.dense_forward(A1, params[1][0], params[1][1], "linear")
        return Z1, A1, Z2

    def accuracy(Xs, ys):
        return float(np.mean(forward(Xs, False)[2].argmax(axis=1) == ys))

    print(f"fastnn {fastnn.__version__} demo: 8x8 digits, {len(train)} train / {len(dev)} dev / "
          f"{len(test)} test, network 64-{args.hidden}-10 (ReLU, softmax), "
          f"{fastnn.get_num_threads()} thread(s)")
    start = time.perf_counter()
    bar = tqdm(range(args.epochs), desc="training", unit="epoch", disable=args.quiet)
    for epoch in bar:
        perm = rng.permutation(len(X_train))
        losses = []
        for lo in range(0, len(perm), args.batch_size):
            idx = perm[lo:lo + args.batch_size]
            Xb, yb = X_train[idx], y_train[idx]
            Z1, A1, Z2 = forward(Xb, True)
            loss, dZ2 = ops.softmax_cross_entropy(Z2, yb)
            dA1, dW2, db2 = ops.dense_backward(dZ2, Z2, A1, params[1][0], "linear", l2=args.l2)
            _, dW1, db1 = ops.dense_backward(dA1, Z1, Xb, params[0][0], "relu", l2=args.l2,
                                             need_dA_prev=False)
            for layer, vel, grads in zip(params, velocity, ((dW1, db1), (dW2, db2))):
                for p, v, g in zip(layer, vel, grads):
                    v *= 0.9
                    v += 0.1 * g
                    p -= args.learning_rate * v
            losses.append(loss)
        bar.set_postfix(loss=f"{np.mean(losses):.4f}")
    elapsed = time.perf_counter() - start
    results = {name: accuracy(X[idx], y[idx]) for name, idx in
               (("train", train), ("dev", dev), ("test", test))}
    print(f"trained {args.epochs} epochs in {elapsed:.2f} s")
    for name, acc in results.items():
        print(f"{name:>5} accuracy: {acc:.4f}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="fastnn", description="Train fully-connected networks "
                                     "on the CPU with fused C kernels.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a network on the embedded 8x8 digits")
    demo.add_argument("--epochs", type=int, default=60)
    demo.add_argument("--hidden", type=int, default=64)
    demo.add_argument("--batch-size", type=int, default=64)
    demo.add_argument("--learning-rate", type=float, default=0.1)
    demo.add_argument("--l2", type=float, default=1e-3)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--threads", type=int, default=None)
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(run=_demo)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("epochs", "hidden", "batch_size"):
        if getattr(args, name, 1) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"fastnn {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
