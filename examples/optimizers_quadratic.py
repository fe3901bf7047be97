"""The course's framework example: minimize J(w) = w^2 - 10w + 25 = (w - 5)^2.

Each optimizer starts at w = 0 and follows dJ/dw = 2w - 10 to the minimum at
w = 5, using fastnn's optimizers on a plain NumPy array: no model involved.

    python examples/optimizers_quadratic.py
    python examples/optimizers_quadratic.py --optimizer adam --learning-rate 0.1 --steps 1000
"""
import argparse

import numpy as np

import fastnn as fn


def J(w):
    return w ** 2 - 10 * w + 25


def dJ(w):
    return 2 * w - 10


OPTIMIZERS = {
    "sgd": lambda lr: fn.SGD(learning_rate=lr),
    "momentum": lambda lr: fn.Momentum(learning_rate=lr, beta=0.9),
    "rmsprop": lambda lr: fn.RMSprop(learning_rate=lr, beta=0.9),
    "adam": lambda lr: fn.Adam(learning_rate=lr, beta1=0.9, beta2=0.999),
}


def minimize(optimizer, steps, w0=0.0):
    """Run `steps` steps from w0; return w and the first step after which w
    stays within 1e-4 of 5."""
    w = np.array([w0])
    settled = None
    for t in range(1, steps + 1):
        optimizer.step([w], [dJ(w)])
        if abs(w[0] - 5.0) < 1e-4:
            settled = settled or t
        else:
            settled = None
    return float(w[0]), settled


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimizer", choices=["all", *OPTIMIZERS], default="all")
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args(argv)
    names = list(OPTIMIZERS) if args.optimizer == "all" else [args.optimizer]
    print(f"minimize J(w) = w^2 - 10w + 25 from w = 0, learning_rate = {args.learning_rate}, "
          f"{args.steps} steps")
    print(f"{'optimizer':<10} {'w':>20} {'J(w)':>12}  within 1e-4 of 5 from step")
    for name in names:
        opt = OPTIMIZERS[name](args.learning_rate)
        w, settled = minimize(opt, args.steps)
        print(f"{type(opt).__name__:<10} {w:20.15f} {J(w):12.3e}  {settled or 'not reached'}")


if __name__ == "__main__":
    main()
