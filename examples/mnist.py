"""MNIST with a fully-connected network: the README's recipe.

    python examples/mnist.py                  # downloads MNIST once (~11 MB, verified)
    python examples/mnist.py path/to/mnist.npz

784 inputs scaled to [0, 1] -> Dense(512) -> BatchNorm -> ReLU -> Dropout
-> Dense(256) -> BatchNorm -> ReLU -> Dropout -> Dense(10) softmax, trained
for 20 epochs on the 60,000 training images with Adam, batch 128 and a
learning rate decaying by a constant factor every epoch; then the 10,000
test images are scored once.  The options change the recipe, e.g.
``--dev 10000`` holds out the last 10,000 training images as a dev set
(scored every epoch) to compare variants without looking at the test set.
"""
import argparse
import sys
import time

import fastnn as fn
from fastnn.datasets import load_mnist


def build(hidden, batchnorm, keep_prob, seed):
    layers = []
    for units in hidden:
        layers.append(fn.Dense(units, "relu", init="he"))
        if batchnorm:
            layers.append(fn.BatchNorm())
        if keep_prob < 1.0:
            layers.append(fn.Dropout(keep_prob))
    layers.append(fn.Dense(10, "softmax", init="xavier"))
    return fn.Sequential(layers, input_dim=784, dtype="float32", seed=seed)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("path", nargs="?", default=None,
                   help="mnist.npz in the Keras layout (x_train, y_train, x_test, y_test); "
                        "default: fastnn.datasets.load_mnist()'s cached download")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--hidden", type=int, nargs="+", default=[512, 256])
    p.add_argument("--no-batchnorm", dest="batchnorm", action="store_false")
    p.add_argument("--keep-prob", type=float, default=0.8, help="1 for no dropout")
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--decay", type=float, default=0.85,
                   help="learning rate multiplied by this every epoch (ExponentialDecay base)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dev", type=int, default=0,
                   help="hold out the last DEV training images as a dev set (0: train on all)")
    args = p.parse_args(argv)

    try:
        (X_train, y_train), (X_test, y_test) = load_mnist(args.path)    # pixels / 255
    except (OSError, ValueError) as exc:      # no such file, no network, not MNIST
        sys.exit(f"mnist.py: {exc}")
    validation = None
    if args.dev:
        X_train, y_train, validation = (X_train[:-args.dev], y_train[:-args.dev],
                                        (X_train[-args.dev:], y_train[-args.dev:]))
    model = build(args.hidden, args.batchnorm, args.keep_prob, args.seed)
    schedule = fn.schedules.ExponentialDecay(args.learning_rate, base=args.decay)
    start = time.perf_counter()
    model.fit(X_train, y_train, optimizer=fn.Adam(learning_rate=schedule), epochs=args.epochs,
              batch_size=args.batch_size, validation_data=validation, verbose=2)
    seconds = time.perf_counter() - start
    print(f"trained {args.epochs} epochs on {X_train.shape[0]} images in {seconds:.1f} s "
          f"({fn.get_num_threads()} threads)")
    if args.dev:
        print(f"dev accuracy {model.evaluate(*validation)['accuracy']:.4f}")
    else:
        print(f"test accuracy {model.evaluate(X_test, y_test)['accuracy']:.4f}")


if __name__ == "__main__":
    main()
