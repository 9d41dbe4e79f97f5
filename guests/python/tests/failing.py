"""A guest that fails on purpose, one way per argument, for
tests/languages.rs: how each failure reads is what the Python SDK is for.

    raise PREFIX    an uncaught ValueError from a nested call
    enum PREFIX     a macvlan mode by a name that is no mode
    kernel PREFIX   a route via an off-link gateway (the kernel's ENETUNREACH),
                    caught and shown, then let out
    exists PREFIX   a namespace created twice, caught and shown (then deleted)
    script PREFIX   a ScriptError (a message, no traceback)
"""

import netwasm
from netwasm import AlreadyExistsError, KernelError, Namespace, ScriptError


def nested(prefix: str) -> None:
    raise ValueError(f"boom in {prefix}")


def run(args: list[str]) -> None:
    what, prefix = args
    if what == "raise":
        nested(prefix)
    elif what == "enum":
        ns = Namespace.create(f"{prefix}-e")
        ns.bridge("br0").macvlan("mv0", mode="bridged")
    elif what == "kernel":
        ns = Namespace.create(f"{prefix}-k").lo_up()
        try:
            ns.add_route("10.10.0.0/16", via="10.99.0.1")
        except KernelError as e:
            print(f"caught: {e}")
            print(f"errno {e.errno}; operation {e.operation}")
            raise
    elif what == "exists":
        ns = Namespace.create(f"{prefix}-x")
        try:
            Namespace.create(f"{prefix}-x")
        except AlreadyExistsError as e:
            print(f"caught: {e}")
        ns.delete()
    elif what == "script":
        raise ScriptError(f"usage: {prefix} is not what was wanted")


WitWorld = netwasm.main(run)
