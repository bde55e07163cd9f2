"""Webhooks: check a callback URL, sign a payload as Standard Webhooks says, and POST it safely.

A callback URL makes the server send a request wherever a client says, so every target is
checked twice: when the report is submitted (a refused URL is a 400 there) and again on
every attempt, because what a name resolves to can change in between. Only ``http`` and
``https`` are taken; a name is resolved, *every* address it has must be public (not loopback,
private, link-local with the cloud metadata address, shared, reserved, unspecified or
multicast) unless ``REPORTGEN_WEBHOOK_ALLOW`` lists the host or a range holding the address,
and the connection then goes to the address that was checked, so a second lookup (DNS
rebinding) cannot switch it. Redirects are never followed (a 3xx is a failed delivery), and no
more than ``MAX_RESPONSE_BYTES`` of the answer is read.

An attempt has one deadline for all of it (connecting, sending, the answer's status and
headers), not a timeout per read: a receiver that answers ``200 OK`` and then a header byte every
3 s never lets a 10 s read timeout expire, and held a worker for the job's whole half hour
(measured before this: two such receivers held both workers, and another client's 2-student
report took 97 s instead of 2 s). At the deadline the socket is shut down, which ends any read
or write waiting on it, TLS included; the attempt is then retried like a lost connection.

Signing is the Standard Webhooks scheme (``webhook-id``, ``webhook-timestamp``,
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``) done with :mod:`hmac`:
it is four lines, and the tests verify it with the ``standardwebhooks`` library, an
implementation independent of ours, which a signer taken from that same library could not show.

Nothing here imports the Flask app: callers pass the settings in (:class:`Settings`).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..domain.upload import parse_callback_url

#: How much of a receiver's answer is read at most; the rest is not waited for.
MAX_RESPONSE_BYTES = 64 * 1024
SECRET_PREFIX = "whsec_"
#: The Standard Webhooks specification asks for 24 to 64 random bytes.
MIN_SECRET_BYTES = 24
USER_AGENT = "reportgen-webhooks"
#: The Standard Webhooks headers every webhook request carries.
SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedURL(ValueError):
    """The URL is malformed or points where webhooks may not go; the text says why."""


@dataclass(frozen=True)
class AllowList:
    """``REPORTGEN_WEBHOOK_ALLOW``: host names, and addresses or CIDR ranges, that may be
    reached although they are not public (a receiver on the same host or network)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, entries: list[str]) -> AllowList:
        hosts, networks = set(), []
        for entry in entries:
            entry = entry.strip().strip("[]")
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.rstrip(".").lower())
        return cls(frozenset(hosts), tuple(networks))

    def allows(self, host: str, address: Address) -> bool:
        return host.rstrip(".").lower() in self.hosts or any(address in network for network in self.networks)


@dataclass(frozen=True)
class Settings:
    """What sending needs, from the app's config (``from_config``)."""

    secret: bytes
    allow: AllowList
    timeout: float

    @classmethod
    def from_config(cls, config) -> Settings:
        return cls(secret=secret_key(config.get("REPORTGEN_WEBHOOK_SECRET", "")),
                   allow=AllowList.parse(config.get("REPORTGEN_WEBHOOK_ALLOW", [])),
                   timeout=float(config.get("REPORTGEN_WEBHOOK_TIMEOUT", 10)))


def secret_key(secret: str) -> bytes:
    """The key of a ``whsec_<base64>`` secret; ValueError naming the variable if it is unset or
    not one."""
    if not secret:
        raise ValueError("webhooks are not configured on this server (REPORTGEN_WEBHOOK_SECRET is unset)")
    encoded = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"REPORTGEN_WEBHOOK_SECRET must be whsec_ followed by at least {MIN_SECRET_BYTES} "
                         "random bytes in base64 (the README shows how to make one)")
    return key


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body``."""
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


#: IPv4 ranges that are not the public Internet, from IANA's special-purpose address registry,
#: with what the refusal calls them; checked after the ``is_…`` flags, which Python 3.11 does
#: not keep up to date with the registry (it calls ``192.0.0.192`` global).
SPECIAL_IPV4 = tuple((ipaddress.IPv4Network(network), words) for network, words in (
    ("0.0.0.0/8", "a 'this network' address"),
    ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
    ("192.0.0.0/24", "an IETF protocol assignment (special-purpose) address"),
    ("192.0.2.0/24", "a documentation address"),
    ("192.31.196.0/24", "an AS112 (special-purpose) address"),
    ("192.52.193.0/24", "an AMT (special-purpose) address"),
    ("192.88.99.0/24", "a 6to4 relay (special-purpose) address"),
    ("192.175.48.0/24", "an AS112 (special-purpose) address"),
    ("198.18.0.0/15", "a benchmarking address"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("240.0.0.0/4", "a reserved address"),
))
#: The only IPv6 addresses that are the public Internet: global unicast, less its special ranges.
GLOBAL_UNICAST_IPV6 = ipaddress.IPv6Network("2000::/3")
SPECIAL_IPV6 = tuple((ipaddress.IPv6Network(network), words) for network, words in (
    ("2001::/23", "an IETF protocol assignment (special-purpose) address"),
    ("2001:db8::/32", "a documentation address"),
    ("2620:4f:8000::/48", "an AS112 (special-purpose) address"),
    ("3fff::/20", "a documentation address"),
))
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _carried_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address, bool] | None:
    """The IPv4 address an IPv6 one carries, what carries it, and whether it stands for that
    address (IPv4-mapped and NAT64 reach exactly it) or is a deprecated tunnel to it (6to4,
    Teredo: refused whatever it carries); None for an IPv6 address that carries none."""
    if address.ipv4_mapped is not None:
        return "an IPv4-mapped address", address.ipv4_mapped, True
    if address in NAT64:
        return "a NAT64 address", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), True
    if address.sixtofour is not None:
        return "a 6to4 address", address.sixtofour, False
    if address.teredo is not None:
        return "a Teredo address", address.teredo[1], False
    return None


def _refusal(address: Address) -> str | None:
    """Why an address may not be a webhook's target, or None for a public one.

    Only what is plainly the public Internet passes: an IPv4 address outside every
    special-purpose range, or an IPv6 global unicast address (``2000::/3``) outside its special
    ranges. An IPv6 address that carries an IPv4 one is judged as that address where it stands
    for it (IPv4-mapped, NAT64: ``[64:ff9b::7f00:1]`` is 127.0.0.1 behind the gateway), and refused
    where it tunnels to it (6to4, Teredo: ``[2002:7f00:1::]`` is 127.0.0.1 through a relay), so
    no IPv4 address is reached around its own check."""
    if isinstance(address, ipaddress.IPv6Address) and (carried := _carried_ipv4(address)):
        what, inner, stands_for = carried
        if not stands_for:
            return f"is {what}, a tunnel to the IPv4 address {inner}; use a native address"
        why = _refusal(inner)
        return None if why is None else f"is {what} of {inner}, which {why}"
    if address == ipaddress.ip_address("169.254.169.254"):
        return "is the cloud metadata address"
    for flag, words in (("is_loopback", "a loopback"), ("is_unspecified", "the unspecified"),
                        ("is_link_local", "a link-local"), ("is_multicast", "a multicast"),
                        ("is_private", "a private"), ("is_reserved", "a reserved")):
        if getattr(address, flag):
            return f"is {words} address"
    if isinstance(address, ipaddress.IPv4Address):
        special = SPECIAL_IPV4
    elif address not in GLOBAL_UNICAST_IPV6:
        return "is not a global unicast address (2000::/3)"
    else:
        special = SPECIAL_IPV6
    for network, words in special:
        if address in network:
            return f"is {words} ({network})"
    if not address.is_global:
        return "is not a public address"
    return None


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (every address checked) and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[Address, ...]


def resolve(url: str, allow: AllowList) -> Target:
    """Check a URL and every address its host has; :class:`RefusedURL` says why not, and
    :class:`socket.gaierror` (a failed lookup) is left to the caller, which may try again."""
    try:
        url = parse_callback_url(url)
    except ValueError as exc:
        raise RefusedURL(str(exc)) from None
    parts = urlsplit(url)
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = (ipaddress.ip_address(host),)
    except ValueError:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except UnicodeError:
            raise RefusedURL(f"its host name {host[:80]} is not valid (a label is empty or too long)") from None
        addresses = tuple(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in found))
    for address in addresses:
        why = _refusal(address)
        if why and not allow.allows(host, address):
            shown = host if str(address) == host else f"{host} ({address})"
            raise RefusedURL(f"{shown} {why}; webhooks go to public addresses only, unless the server's "
                             "REPORTGEN_WEBHOOK_ALLOW lists it")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, path, addresses)


class _Deadline:
    """One attempt's whole time: the connection it is given is shut down when the time is up,
    which ends whatever read or write is waiting on it (a socket timeout alone bounds each
    read, and a receiver that trickles a byte every few seconds would never trip it)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends_at = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def left(self) -> float:
        """Seconds left; TimeoutError when none are."""
        left = self.ends_at - time.monotonic()
        if left <= 0 or self.expired:
            raise TimeoutError
        return left

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                self._cut()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._cut()

    def _cut(self) -> None:
        if self._sock is not None:
            try:  # the descriptor's own shutdown, also under TLS (whose shutdown would drop its state)
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def release(self, sock: socket.socket | None) -> None:
        """Stop watching ``sock`` before it is closed (its descriptor may then be reused)."""
        with self._lock:
            if self._sock is sock:
                self._sock = None

    def cancel(self) -> None:
        self._timer.cancel()


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTP to one checked address, with the URL's host in ``Host``, within the attempt's deadline."""

    def __init__(self, host: str, port: int, address: Address, deadline: _Deadline):
        super().__init__(host, port, timeout=deadline.left())
        self.address, self.deadline = address, deadline

    def _open(self) -> socket.socket:
        sock = socket.create_connection((str(self.address), self.port), self.deadline.left())
        self.deadline.watch(sock)
        return sock

    def connect(self) -> None:
        self.sock = self._open()

    def close(self) -> None:
        self.deadline.release(self.sock)
        super().close()


class _PinnedHTTPS(_PinnedHTTP):
    """HTTPS to one checked address; the certificate is checked against the URL's host (SNI)."""

    def connect(self) -> None:
        self.sock = ssl.create_default_context().wrap_socket(self._open(), server_hostname=self.host,
                                                            do_handshake_on_connect=False)
        self.deadline.watch(self.sock)  # the wrapped socket owns the descriptor now
        self.sock.do_handshake()


@dataclass(frozen=True)
class Outcome:
    """One attempt: ``delivered``; else ``retry`` (a connection error, a timeout, 429 or 5xx)
    or not (a final failure), with ``error`` in plain words. ``status_code`` is the receiver's
    answer, if it gave one."""

    delivered: bool
    retry: bool = False
    status_code: int | None = None
    error: str | None = None


def _answer(connection: _PinnedHTTP, target: Target, headers: dict, body: bytes) -> int:
    """The receiver's status; then at most ``MAX_RESPONSE_BYTES`` of its body are read while the
    deadline lasts (the status is the answer; the rest is not waited for)."""
    connection.request("POST", target.path, body=body, headers=headers)
    response = connection.getresponse()
    if connection.deadline.expired:  # cut while the status line or headers were still coming
        raise TimeoutError
    left = MAX_RESPONSE_BYTES
    try:
        while left > 0 and not connection.deadline.expired:
            chunk = response.read1(min(left, 16 * 1024))
            if not chunk:
                break
            left -= len(chunk)
    except (OSError, http.client.HTTPException):
        pass
    return response.status


def deliver(url: str, body: bytes, message_id: str, settings: Settings, request_id: str | None = None) -> Outcome:
    """POST ``body`` (JSON) to ``url``, signed, once; see the module docstring for the checks.
    ``request_id`` (the submitting request's, reportgen.logs) goes along as ``X-Request-ID``.

    The attempt has ``settings.timeout`` seconds in all, from the first connection to the
    answer's headers, for every address of the host together, however slowly the receiver
    sends them; an attempt that runs out of them is retried like any connection error."""
    try:
        target = resolve(url, settings.allow)
    except RefusedURL as exc:
        return Outcome(False, error=f"the URL was refused: {exc}")
    except socket.gaierror as exc:
        return Outcome(False, retry=True, error=f"its host could not be resolved ({exc})")
    timestamp = int(time.time())
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "webhook-id": message_id,
               "webhook-timestamp": str(timestamp),
               "webhook-signature": signature(settings.secret, message_id, timestamp, body)}
    if request_id:
        headers["X-Request-ID"] = request_id
    connection_class = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    deadline = _Deadline(settings.timeout)
    status = None
    last_error = "no address to connect to"
    try:
        for address in target.addresses:
            connection = None
            try:
                connection = connection_class(target.host, target.port, address, deadline)
                status = _answer(connection, target, headers, body)
                break
            except ssl.SSLError as exc:
                if deadline.expired:
                    return _timed_out(settings)
                return Outcome(False, error=f"the TLS connection failed: {exc.reason or exc}")
            except TimeoutError:
                return _timed_out(settings)
            except (OSError, http.client.HTTPException) as exc:
                if deadline.expired:
                    return _timed_out(settings)
                last_error = f"could not connect: {type(exc).__name__}: {exc}"
            finally:
                if connection is not None:
                    connection.close()
    finally:
        deadline.cancel()
    if status is None:
        return Outcome(False, retry=True, error=last_error)
    reason = f"HTTP {status} {http.client.responses.get(status, '')}".rstrip()
    if 200 <= status < 300:
        return Outcome(True, status_code=status)
    if 300 <= status < 400:
        return Outcome(False, status_code=status, error=f"the receiver answered {reason}; redirects are not followed")
    if status == 429 or status >= 500:
        return Outcome(False, retry=True, status_code=status, error=f"the receiver answered {reason}")
    return Outcome(False, status_code=status, error=f"the receiver answered {reason}")


def _timed_out(settings: Settings) -> Outcome:
    return Outcome(False, retry=True, error=f"no answer within {settings.timeout:g} s")


class AttemptFailed(Exception):
    """An attempt that RQ should repeat; its name is all rq-dashboard shows of it."""


def check_submitted(url: str, config) -> None:
    """At submit, with the app's config: ValueError (a :class:`RefusedURL` for the URL) when a
    webhook to ``url`` could not be sent, because the server has no usable secret or the URL
    would be refused; a host that cannot be resolved is refused too."""
    secret_key(config.get("REPORTGEN_WEBHOOK_SECRET", ""))
    allow = AllowList.parse(config.get("REPORTGEN_WEBHOOK_ALLOW", []))
    try:
        resolve(url, allow)
    except socket.gaierror:
        raise RefusedURL(f"its host {urlsplit(url).hostname} could not be resolved") from None
