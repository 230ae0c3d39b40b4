"""The `autograph` command: the one place that may import autograph, nets and viz together."""
import argparse
import sys


def demo(args):
    """The chapter's first worked example: e = (a + b)(b + 1) at a = 2, b = 1."""
    import autograph as ag
    a = ag.tensor(2.0, requires_grad=True, name="a")
    b = ag.tensor(1.0, requires_grad=True, name="b")
    c, d = a + b, b + 1
    e = c * d
    e.backward()
    print("e = (a + b)(b + 1) at a = 2, b = 1")
    print("  c = a + b = %g, d = b + 1 = %g, e = c * d = %g" % (c.item(), d.item(), e.item()))
    print("  de/da = d = %g" % a.grad.item())
    print("  de/db = d + c = %g" % b.grad.item())
    print("(The chapter writes a = 3, but c = 4 and e = 6 only fit a = 2; see the README.)")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="autograph", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("demo", help="run the main demo")
    p.set_defaults(func=demo)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
