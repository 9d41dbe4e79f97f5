"""The lab API over the generated `netwasm:lab` bindings (see the package's
docstring). Everything here is re-exported by `netwasm`."""

from __future__ import annotations

import enum
import sys
import traceback
from typing import Callable, Iterable, Optional, Sequence, Type, TypeVar, Union

from componentize_py_types import Err
from wit_world import WitWorld as _World
from wit_world.imports import addr as _addr
from wit_world.imports import batch as _batch
from wit_world.imports import link as _link
from wit_world.imports import namespace as _namespace
from wit_world.imports import probe as _probe
from wit_world.imports import process as _process
from wit_world.imports import route as _route
from wit_world.imports import types as _types
from wit_world.imports import verify as _verify

# The records and enums of the WIT, under their own names.
from wit_world.imports.addr import AddressInfo
from wit_world.imports.link import LinkInfo, MacvlanMode, OperState, VxlanConfig, VxlanInfo
from wit_world.imports.probe import Neighbor, NeighborState, PingResult
from wit_world.imports.process import ExitStatus_Exited as Exited
from wit_world.imports.process import ExitStatus_Signaled as Signaled
from wit_world.imports.process import Output, Signal
from wit_world.imports.route import RouteInfo, RouteSpec
from wit_world.imports.types import IpFamily
from wit_world.imports.verify import Outcome

__all__ = [
    "Error", "LabError", "NotFoundError", "AlreadyExistsError", "InvalidArgumentError",
    "BusyError", "PermissionDeniedError", "DeniedError", "LimitReachedError", "KernelError",
    "ScriptError",
    "Namespace", "Link", "Plan", "Process", "check", "main",
    "AddressInfo", "LinkInfo", "MacvlanMode", "OperState", "VxlanConfig", "VxlanInfo",
    "Neighbor", "NeighborState", "PingResult", "Exited", "Signaled", "Output", "Signal",
    "RouteInfo", "RouteSpec", "IpFamily", "Outcome",
]


# ---------------------------------------------------------------- errors


class Error(Exception):
    """Every error of this package: the host's refusals (`LabError`) and
    the script's own (`ScriptError`)."""


class ScriptError(Error):
    """A failure of the script's own making (bad arguments, a failed
    check): `raise ScriptError("usage: ...")` from `run` ends the run with
    exactly that message and no traceback (the Rust SDK's `Error::msg`)."""


class LabError(Error):
    """The host refused or failed an operation: one subclass per case of the
    WIT `error` variant (wit/types.wit). `str()` is `KIND: MESSAGE`, as the
    Rust SDK prints it, where MESSAGE is the host's own line naming the
    operation and the object (`already exists: namespace demo-lan`)."""

    #: The WIT case: `not-found`, `already-exists`, ...
    kind = ""

    def __init__(self, message: str):
        super().__init__(message)
        #: The host's message, without the kind.
        self.message = message

    def __str__(self) -> str:
        return f"{self.kind.replace('-', ' ')}: {self.message}"

    @staticmethod
    def from_wit(e: _types.Error) -> "LabError":
        """The exception for a WIT `error` value (an `Err`'s `value`)."""
        if isinstance(e, _types.Error_Kernel):
            k = e.value
            return KernelError(k.message, k.errno, k.operation)
        cls = _KINDS.get(type(e))
        if cls is None:  # a case added to the WIT after this package
            return LabError(f"{type(e).__name__}: {getattr(e, 'value', e)}")
        return cls(e.value)


class NotFoundError(LabError):
    """The object named does not exist, or the handle's object was deleted."""

    kind = "not-found"


class AlreadyExistsError(LabError):
    """An object with that name or value already exists."""

    kind = "already-exists"


class InvalidArgumentError(LabError, ValueError):
    """An argument is malformed or out of range, or does not fit the objects
    it names (also raised by this package for an enum name it does not
    know). Nothing was changed."""

    kind = "invalid-argument"


class BusyError(LabError):
    """The object is in use and cannot be changed that way now (EBUSY)."""

    kind = "busy"


class PermissionDeniedError(LabError):
    """The kernel refused for lack of privilege (EPERM, EACCES)."""

    kind = "permission-denied"


class DeniedError(LabError):
    """The run's sandbox policy does not allow the operation; the message
    names the policy entry that would. Nothing was changed."""

    kind = "denied"


class LimitReachedError(LabError):
    """A quota of the run's policy was reached. Nothing was changed."""

    kind = "limit-reached"


class KernelError(LabError):
    """Any other refusal by the kernel. `message` holds the operation, the
    errno's text and name, and the kernel's own explanation when it gave
    one: `add route ...: Network is unreachable (ENETUNREACH) (Nexthop has
    invalid gateway)`."""

    kind = "kernel"

    def __init__(self, message: str, errno: int = 0, operation: str = ""):
        super().__init__(message)
        #: The positive errno value (101 for ENETUNREACH); 0 when unknown.
        self.errno = errno
        #: The operation and object that failed.
        self.operation = operation


_KINDS = {
    _types.Error_NotFound: NotFoundError,
    _types.Error_AlreadyExists: AlreadyExistsError,
    _types.Error_InvalidArgument: InvalidArgumentError,
    _types.Error_Busy: BusyError,
    _types.Error_PermissionDenied: PermissionDeniedError,
    _types.Error_Denied: DeniedError,
    _types.Error_LimitReached: LimitReachedError,
}

# Shown as `netwasm.KernelError` in tracebacks, where users import them from.
for _cls in (Error, ScriptError, LabError, *_KINDS.values(), KernelError):
    _cls.__module__ = "netwasm"

_T = TypeVar("_T")


def _call(f: Callable[..., _T], *args) -> _T:
    """Calls a binding, raising its WIT `error` as this package's exception
    (without the binding's `Err` chained to it: one error, one message)."""
    try:
        return f(*args)
    except Err as e:
        raise LabError.from_wit(e.value) from None


_E = TypeVar("_E", bound=enum.Enum)


def _enum(cls: Type[_E], value: Union[_E, str], what: str) -> _E:
    """`value` as a member of `cls`: the member itself, or its name as the
    WIT spells it (`bridge`, `not-present`) or Python does (`BRIDGE`,
    `NOT_PRESENT`), in any case."""
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        member = cls.__members__.get(value.strip().upper().replace("-", "_"))
        if member is not None:
            return member
    names = ", ".join(m.lower().replace("_", "-") for m in cls.__members__)
    raise InvalidArgumentError(f"{what} {value!r} is not one of {names}") from None


# ---------------------------------------------------------------- namespaces


class Namespace:
    """A network namespace the script holds."""

    def __init__(self, handle: _namespace.Netns):
        #: The raw handle, for the generated bindings.
        self.handle = handle

    def __repr__(self) -> str:
        return f"Namespace({self.name!r})"

    @staticmethod
    def create(name: str) -> "Namespace":
        """Creates a new namespace."""
        return Namespace(_call(_namespace.create, name))

    @staticmethod
    def create_all(names: Iterable[str]) -> list["Namespace"]:
        """Creates several namespaces at once, all or nothing (concurrently
        on the host); the handles come back in the order of `names`."""
        return [Namespace(h) for h in _call(_namespace.create_all, list(names))]

    @staticmethod
    def build_all(plans: Sequence["Plan"]) -> list["Namespace"]:
        """Builds every plan in one call, all or nothing (see `Plan`); the
        handles come back in the order of `plans`."""
        vxlans = [v for p in plans for v in p._vxlans]
        raw = [p._plan for p in plans]
        if vxlans:
            built = _call(_batch.build_with_vxlans, raw, vxlans)
        else:
            built = _call(_batch.build, raw)
        return [Namespace(h) for h in built]

    @staticmethod
    def open(name: str) -> "Namespace":
        """Opens an existing namespace (one this lab created earlier, or one
        the policy grants)."""
        return Namespace(_call(_namespace.open, name))

    @staticmethod
    def root() -> "Namespace":
        """Opens the root namespace (only when the policy grants root links)."""
        return Namespace(_call(_namespace.root))

    @staticmethod
    def list() -> list[str]:
        """The names of the namespaces the script may see."""
        return _call(_namespace.list)

    @property
    def name(self) -> str:
        return self.handle.name()

    def delete(self) -> None:
        """Deletes the namespace and everything in it."""
        _call(_namespace.delete, self.handle)

    def link(self, name: str) -> "Link":
        """An existing link of this namespace, by name."""
        return Link(_call(_link.get, self.handle, name))

    def lo_up(self) -> "Namespace":
        """Sets the loopback link up (a new namespace's `lo` is down)."""
        self.link("lo").up()
        return self

    def links(self) -> list[LinkInfo]:
        """The facts about every link of this namespace."""
        return _call(_link.list, self.handle)

    def bridge(self, name: str) -> "Link":
        """Creates a Linux bridge here (spanning tree off)."""
        return Link(_call(_link.add_bridge, self.handle, name))

    def veth(self, name: str, peer_ns: "Namespace", peer_name: str) -> tuple["Link", "Link"]:
        """Creates a veth pair: `name` here, `peer_name` in `peer_ns`."""
        a, b = _call(_link.add_veth, self.handle, name, peer_ns.handle, peer_name)
        return Link(a), Link(b)

    def vxlan(
        self,
        name: str,
        id: int,
        *,
        remote: Optional[str] = None,
        group: Optional[str] = None,
        local: Optional[str] = None,
        device: Optional[str] = None,
        port: Optional[int] = None,
        learning: Optional[bool] = None,
        ttl: Optional[int] = None,
    ) -> "Link":
        """Creates a vxlan here with VNI `id`, sending to `remote` (or to a
        multicast `group`, by `device`): `ns.vxlan("vx0", 42,
        remote="10.99.0.2", device="eth0")`."""
        config = _vxlan_config(id, remote, group, local, device, port, learning, ttl)
        return Link(_call(_link.add_vxlan, self.handle, name, config))

    def macvlan_on(
        self,
        parent: str,
        name: str,
        *,
        mode: Union[MacvlanMode, str, None] = None,
        mac: Optional[str] = None,
        mtu: Optional[int] = None,
        namespace: Optional["Namespace"] = None,
    ) -> "Link":
        """Creates a macvlan child of this namespace's link `parent`; see
        `Link.macvlan`."""
        config = _macvlan_config(name, mode, mac, mtu)
        target = namespace.handle if namespace is not None else None
        return Link(_call(_link.add_macvlan_on, self.handle, parent, config, target))

    def default_route(self, gateway: str) -> "Namespace":
        """Adds a default route via `gateway` (IPv4 or IPv6)."""
        return self.add_route("default", via=gateway)

    def add_route(
        self,
        destination: str,
        *,
        via: Optional[str] = None,
        dev: Optional["Link"] = None,
        metric: Optional[int] = None,
    ) -> "Namespace":
        """Adds a route to `destination` (a prefix, an address, or
        `default`) via a gateway, out of a link, or both."""
        spec = RouteSpec(destination=destination, gateway=via, metric=metric)
        _call(_route.add, self.handle, spec, dev.handle if dev is not None else None)
        return self

    def delete_route(
        self,
        destination: str,
        *,
        via: Optional[str] = None,
        dev: Optional["Link"] = None,
        metric: Optional[int] = None,
    ) -> "Namespace":
        """Deletes a route of the main table."""
        spec = RouteSpec(destination=destination, gateway=via, metric=metric)
        _call(_route.delete, self.handle, spec, dev.handle if dev is not None else None)
        return self

    def routes(self) -> list[RouteInfo]:
        """The routes of the main table."""
        return _call(_route.list, self.handle)

    def forwarding(self, on: bool) -> "Namespace":
        """Turns IP forwarding on or off here (a router namespace)."""
        _call(self.handle.set_forwarding, on)
        return self

    def ping(self, to: str, count: int = 1, timeout_ms: int = 1000) -> PingResult:
        """Pings `to` from inside this namespace (`probe.ping`): `count`
        requests, waiting up to `timeout_ms` after the last. Loss shows in
        the result (`received`), not as an error."""
        return _call(_probe.ping, self.handle, to, count, timeout_ms)

    def neighbors(self) -> list[Neighbor]:
        """This namespace's ARP and NDP entries."""
        return _call(_probe.neighbors, self.handle)

    def expect_reachable(self, to: str, label: str = "") -> "Namespace":
        """States that `to` must answer pings from here; checked by
        `check()` or when `run` returns, and the run fails (exit 6) if not."""
        _call(_verify.expect, self.handle, to, True, label)
        return self

    def expect_unreachable(self, to: str, label: str = "") -> "Namespace":
        """States that `to` must not answer pings from here."""
        _call(_verify.expect, self.handle, to, False, label)
        return self

    def spawn(
        self,
        argv: Sequence[str],
        *,
        env: Optional[dict[str, str]] = None,
        stdin: Union[bytes, str, None] = None,
    ) -> "Process":
        """Starts a program inside this namespace: `argv[0]` names it (an
        absolute path or a bare name on the fixed PATH) and must be in the
        policy's `[exec] commands`; no shell, an environment of `env` only,
        `stdin` or /dev/null."""
        if isinstance(stdin, str):
            stdin = stdin.encode()
        cmd = _process.Command(
            argv=[str(a) for a in argv],
            env=list((env or {}).items()),
            stdin=stdin,
        )
        return Process(_call(_process.start, self.handle, cmd))


def check() -> list[Outcome]:
    """Checks every pending expectation now (netwasm prints the matrix) and
    returns the outcomes. Unmet ones still fail the run when it ends."""
    return _call(_verify.check)


# ---------------------------------------------------------------- links


class Link:
    """A link the script holds. The handle follows the link when it moves.
    The setters return the link, so they chain:
    `ns.bridge("br0").addr("10.0.0.1/24").up()`."""

    def __init__(self, handle: _link.Link):
        #: The raw handle, for the generated bindings.
        self.handle = handle

    def __repr__(self) -> str:
        return f"Link({self.name!r} in {self.namespace!r})"

    @property
    def name(self) -> str:
        return self.handle.name()

    @property
    def namespace(self) -> str:
        """The name of the namespace the link is in."""
        return self.handle.namespace()

    def info(self) -> LinkInfo:
        """The kernel's current facts about the link."""
        return _call(self.handle.info)

    def vxlan_info(self) -> Optional[VxlanInfo]:
        """The vxlan's tunnel as the kernel reports it; None for other links."""
        return _call(self.handle.vxlan_info)

    def up(self) -> "Link":
        _call(self.handle.set_up)
        return self

    def down(self) -> "Link":
        _call(self.handle.set_down)
        return self

    def mtu(self, mtu: int) -> "Link":
        _call(self.handle.set_mtu, mtu)
        return self

    def mac(self, mac: str) -> "Link":
        _call(self.handle.set_mac, mac)
        return self

    def master(self, bridge: "Link") -> "Link":
        """Makes this link a port of `bridge`."""
        _call(self.handle.set_master, bridge.handle)
        return self

    def nomaster(self) -> "Link":
        _call(self.handle.unset_master)
        return self

    def hairpin(self, on: bool) -> "Link":
        """Hairpin mode on a bridge port: frames may leave by the port they
        came in on, as a VEPA-capable switch does."""
        _call(self.handle.set_hairpin, on)
        return self

    def move_to(self, ns: Namespace, new_name: Optional[str] = None) -> "Link":
        """Moves the link to `ns`, optionally renaming it. Prefer creating
        links where they live: a move costs the kernel tens of ms."""
        _call(self.handle.move_to, ns.handle, new_name)
        return self

    def delete(self) -> None:
        _call(_link.delete, self.handle)

    def addr(self, cidr: str) -> "Link":
        """Adds an address, `172.16.10.5/24` or `fd00::5/64`."""
        _call(_addr.add, self.handle, cidr)
        return self

    def del_addr(self, cidr: str) -> "Link":
        _call(_addr.delete, self.handle, cidr)
        return self

    def addrs(self) -> list[AddressInfo]:
        return _call(_addr.list, self.handle)

    def macvlan(
        self,
        name: str,
        *,
        mode: Union[MacvlanMode, str, None] = None,
        mac: Optional[str] = None,
        mtu: Optional[int] = None,
        namespace: Optional[Namespace] = None,
    ) -> "Link":
        """Creates a macvlan child of this link, in `mode` (a `MacvlanMode`
        or its name: `"bridge"`; the kernel's default, vepa, when none),
        directly in `namespace` when given (far cheaper than a move)."""
        config = _macvlan_config(name, mode, mac, mtu)
        target = namespace.handle if namespace is not None else None
        return Link(_call(_link.add_macvlan, self.handle, config, target))


def _macvlan_config(name, mode, mac, mtu) -> _link.MacvlanConfig:
    if mode is not None:
        mode = _enum(MacvlanMode, mode, "macvlan mode")
    return _link.MacvlanConfig(name=name, mode=mode, mac=mac, mtu=mtu)


def _vxlan_config(id, remote, group, local, device, port, learning, ttl) -> VxlanConfig:
    return VxlanConfig(
        id=id, local=local, remote=remote, group=group, device=device,
        port=port, learning=learning, ttl=ttl,
    )


# ---------------------------------------------------------------- plans


class Plan:
    """One namespace for `Namespace.build_all` and what goes in it. The host
    does the steps in this order, whatever order they are given in: the
    namespace, its links, its vxlans, `up`, addresses, routes. Links are
    named by name: `lo`, or a link the plan creates::

        plans = [
            Plan(f"unit{i}")
            .macvlan("phy", "eth0", "eth0", mode="bridge")
            .up("lo").up("eth0")
            .addr("eth0", f"172.16.10.{i + 2}/24")
            .default_route("172.16.10.1")
            for i in range(100)
        ]
        units = Namespace.build_all(plans)
    """

    def __init__(self, name: str):
        self._plan = _batch.NamespacePlan(name=name, links=[], up=[], addresses=[], routes=[])
        self._vxlans: list[_batch.NewVxlan] = []

    @property
    def name(self) -> str:
        return self._plan.name

    def macvlan(
        self,
        parent_ns: str,
        parent: str,
        name: str,
        *,
        mode: Union[MacvlanMode, str, None] = None,
        mac: Optional[str] = None,
        mtu: Optional[int] = None,
    ) -> "Plan":
        """A macvlan `name`, made directly in this namespace, on link
        `parent` of namespace `parent_ns` (one the script holds)."""
        config = _macvlan_config(name, mode, mac, mtu)
        self._plan.links.append(
            _batch.NewLink_Macvlan(
                _batch.NewMacvlan(parent_namespace=parent_ns, parent=parent, config=config)
            )
        )
        return self

    def bridge(self, name: str) -> "Plan":
        """A Linux bridge `name` in this namespace."""
        self._plan.links.append(_batch.NewLink_Bridge(name))
        return self

    def vxlan(
        self,
        name: str,
        id: int,
        *,
        remote: Optional[str] = None,
        group: Optional[str] = None,
        local: Optional[str] = None,
        device: Optional[str] = None,
        port: Optional[int] = None,
        learning: Optional[bool] = None,
        ttl: Optional[int] = None,
    ) -> "Plan":
        """A vxlan `name` in this namespace, made after its other links (its
        `device` may be one of them)."""
        config = _vxlan_config(id, remote, group, local, device, port, learning, ttl)
        self._vxlans.append(_batch.NewVxlan(namespace=self.name, name=name, config=config))
        return self

    def up(self, link: str) -> "Plan":
        """Sets `link` administratively up."""
        self._plan.up.append(link)
        return self

    def addr(self, link: str, cidr: str) -> "Plan":
        """Adds address `cidr` to `link`."""
        self._plan.addresses.append(_batch.NewAddress(link=link, cidr=cidr))
        return self

    def default_route(self, gateway: str) -> "Plan":
        return self.route("default", via=gateway)

    def route(
        self,
        destination: str,
        *,
        via: Optional[str] = None,
        dev: Optional[str] = None,
        metric: Optional[int] = None,
    ) -> "Plan":
        """Adds a route to `destination` via a gateway, out of link `dev`
        (by name), or both."""
        spec = RouteSpec(destination=destination, gateway=via, metric=metric)
        self._plan.routes.append(_batch.NewRoute(route=spec, dev=dev))
        return self


# ---------------------------------------------------------------- processes


class Process:
    """A program this guest started. Dropping it leaves the program running."""

    def __init__(self, handle: _process.Process):
        #: The raw handle, for the generated bindings.
        self.handle = handle

    @property
    def pid(self) -> int:
        return self.handle.pid()

    def wait(self, timeout_ms: int) -> Union[Exited, Signaled, None]:
        """Waits up to `timeout_ms` (at most 60000) for it to end: its
        `Exited(code)` or `Signaled(signal)`, or None while it runs."""
        return _call(self.handle.wait, timeout_ms)

    def stdout(self) -> Output:
        """Takes what it wrote to stdout since the last call."""
        return self.handle.read_stdout()

    def stderr(self) -> Output:
        """Takes what it wrote to stderr since the last call."""
        return self.handle.read_stderr()

    def signal(self, sig: Union[Signal, str]) -> None:
        """Sends it a signal: a `Signal` or its name (`"term"`, `"kill"`)."""
        _call(self.handle.signal, _enum(Signal, sig, "signal"))


# ---------------------------------------------------------------- the export


def _failure(e: BaseException) -> str:
    """The run's error message for an exception `run` let out: its own words
    for the script's and the host's errors, `Type: message` for the rest.
    Prints the traceback (this package's frames left out) to stderr first,
    except for a ScriptError, which is a message and not a bug."""
    if isinstance(e, Err):
        # A raw binding's error, from a script that uses the bindings.
        e = LabError.from_wit(e.value) if not isinstance(e.value, str) else ScriptError(e.value)
    if isinstance(e, ScriptError):
        return str(e)
    tb = [
        f for f in traceback.extract_tb(e.__traceback__)
        if not f.filename.endswith(("netwasm/_lab.py", "netwasm\\_lab.py"))
    ]
    lines = ["Traceback (most recent call last):\n"]
    lines += traceback.format_list(tb)
    lines += traceback.format_exception_only(type(e), e)
    sys.stderr.write("".join(lines))
    sys.stderr.flush()
    if isinstance(e, LabError):
        return str(e)
    text = "".join(traceback.format_exception_only(type(e), e)).strip()
    return text


def main(run: Callable[[list[str]], object]) -> type:
    """The world's export for `run(args)`: `WitWorld = netwasm.main(run)`.
    An exception out of `run` fails the run (exit 1) with its message,
    after its traceback on stderr; returning succeeds."""

    class WitWorld(_World):
        def run(self, args: list[str]) -> None:
            try:
                run(list(args))
            except SystemExit as e:
                if e.code in (None, 0):
                    return
                raise Err(f"the script exited with status {e.code}") from None
            except BaseException as e:  # noqa: BLE001 - every failure is the run's
                # Anything but an `Err(str)` out of here traps the guest.
                raise Err(_failure(e)) from None

    WitWorld.__qualname__ = f"netwasm.main({getattr(run, '__name__', 'run')})"
    return WitWorld
