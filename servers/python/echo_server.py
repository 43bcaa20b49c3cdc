#!/usr/bin/python3
"""A TCP echo server in the Python standard library, written the way the tutorials teach it.

One script, one echo loop; only the way it waits for readiness differs between the modes:

  select     select.select (the fd lists are rebuilt and copied on every call; fds >= 1024
             cannot be watched at all: such connections are accepted and closed at once)
  poll       select.poll
  epoll      select.epoll, level-triggered
  selectors  selectors.DefaultSelector (epoll on Linux, behind the selectors key objects)
  asyncio    asyncio with a BufferedProtocol (see serve_asyncio for why not streams)
  asyncio-streams
             asyncio streams (start_server, reader.read, writer.write + drain): the idiomatic
             tutorial version, kept to measure what the stream layer costs

The echo contract (DESIGN.md section 4): non-blocking sockets, TCP_NODELAY, read what is there
(--read-size bytes at most per read) and echo all of it in order; bytes the socket does not take
wait in a per-connection buffer and write interest is armed only while it is non-empty; above
--max-pending unsent bytes the connection is not read until it drains; a peer's FIN while bytes
are owed: flush them, then close; EPIPE/ECONNRESET close that connection only; EMFILE on accept
is handled with a reserve descriptor (libuv's trick) and a back-off, so it never spins.

Prints 'listening ADDRESS:PORT' on stdout once it accepts connections. SIGINT/SIGTERM stop it
with exit code 0 and a one-line summary on stderr. Bad usage: exit code 2 and one line.
Run it with Debian's /usr/bin/python3 (3.11).
"""

import argparse
import asyncio
import errno
import ipaddress
import math
import os
import resource
import select
import selectors
import signal
import socket
import sys
import time

PROGRAM = "echo_server.py"
MODES = ("select", "poll", "epoll", "selectors", "asyncio", "asyncio-streams")

# One set of interest/readiness bits for every mode: poll's and epoll's values are the same on
# Linux, so their results are used as they come; select and selectors translate.
READ = select.POLLIN
WRITE = select.POLLOUT
ERRORS = select.POLLERR | select.POLLHUP
assert (READ, WRITE, ERRORS) == (select.EPOLLIN, select.EPOLLOUT, select.EPOLLERR | select.EPOLLHUP)

FD_SETSIZE = 1024  # glibc's; select.select raises ValueError for any descriptor at or past it
MAX_ACCEPTS_PER_EVENT = 64
ACCEPT_BACKOFF_SECONDS = 0.1
RESET_ERRORS = (errno.ECONNRESET, errno.EPIPE)


class UsageError(Exception):
    pass


class Stop(BaseException):
    """Raised by the SIGINT/SIGTERM handler; unwinds out of whatever wait is blocking."""


class Counters:
    def __init__(self):
        self.accepts = 0
        self.refused_fd_setsize = 0
        self.refused_fd_limit = 0
        self.fd_limit_hits = 0
        self.accept_errors = 0
        self.closes_eof = 0
        self.closes_reset = 0
        self.closes_error = 0
        self.backpressure_pauses = 0

    def summary(self):
        return ", ".join(f"{name} {value}" for name, value in vars(self).items())


# ---- How each mode waits: register/modify/unregister a descriptor's interest, wait for events.


class SelectPoller:
    max_fd = FD_SETSIZE - 1

    def __init__(self):
        self.readers = set()
        self.writers = set()

    def register(self, fd, mask):
        self.modify(fd, mask)

    def modify(self, fd, mask):
        (self.readers.add if mask & READ else self.readers.discard)(fd)
        (self.writers.add if mask & WRITE else self.writers.discard)(fd)

    def unregister(self, fd):
        self.readers.discard(fd)
        self.writers.discard(fd)

    def wait(self, timeout):
        readable, writable, _ = select.select(self.readers, self.writers, (), timeout)
        return [(fd, READ) for fd in readable] + [(fd, WRITE) for fd in writable]


class PollPoller:
    max_fd = None

    def __init__(self):
        self.poller = select.poll()
        self.register = self.poller.register
        self.modify = self.poller.modify
        self.unregister = self.poller.unregister

    def wait(self, timeout):
        return self.poller.poll(None if timeout is None else math.ceil(timeout * 1000))


class EpollPoller:
    max_fd = None

    def __init__(self):
        self.poller = select.epoll()  # level-triggered unless EPOLLET is asked for
        self.register = self.poller.register
        self.modify = self.poller.modify
        self.unregister = self.poller.unregister

    def wait(self, timeout):
        return self.poller.poll(-1 if timeout is None else timeout)


class SelectorsPoller:
    max_fd = None
    TO_SELECTOR = {READ: selectors.EVENT_READ, WRITE: selectors.EVENT_WRITE,
                   READ | WRITE: selectors.EVENT_READ | selectors.EVENT_WRITE}
    FROM_SELECTOR = {value: key for key, value in TO_SELECTOR.items()}

    def __init__(self):
        self.selector = selectors.DefaultSelector()
        self.unregister = self.selector.unregister

    def register(self, fd, mask):
        self.selector.register(fd, self.TO_SELECTOR[mask])

    def modify(self, fd, mask):
        self.selector.modify(fd, self.TO_SELECTOR[mask])

    def wait(self, timeout):
        convert = self.FROM_SELECTOR
        return [(key.fd, convert[events]) for key, events in self.selector.select(timeout)]


POLLERS = {"select": SelectPoller, "poll": PollPoller, "epoll": EpollPoller,
           "selectors": SelectorsPoller}


# ---- The listening socket, and running out of descriptors


def open_reserve():
    try:
        return os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None


class Listener(socket.socket):
    """A listening socket whose accept() survives EMFILE/ENFILE without spinning, for the raw
    loops and asyncio alike. accept() fails with EMFILE even on an empty backlog, so the listener
    stays readable and a level-triggered loop would call it again at once; asyncio (3.11) even
    goes on calling it `backlog` times in the same turn, scheduling one retry per failure. So, as
    libuv does, a reserve descriptor is freed, what waits in the backlog is accepted and closed
    (refused: the clients see the close), the reserve is taken back, and accept() reports an
    empty backlog (BlockingIOError). Only when there is no reserve to lend does EMFILE reach the
    caller (which stops accepting for a while); further calls in that back-off see an empty
    backlog, which ends asyncio's turn."""

    def prepare(self, counters):
        self.counters = counters
        self.reserve_fd = open_reserve()
        self.quiet_until = 0.0

    def accept(self):
        if self.quiet_until and time.monotonic() < self.quiet_until:
            raise BlockingIOError(errno.EAGAIN, "out of descriptors: not accepting for a while")
        try:
            return super().accept()
        except OSError as error:
            if error.errno not in (errno.EMFILE, errno.ENFILE):
                raise
            self.counters.fd_limit_hits += 1
            if self.reserve_fd is None:
                self.reserve_fd = open_reserve()
            if self.reserve_fd is None:
                self.quiet_until = time.monotonic() + ACCEPT_BACKOFF_SECONDS
                raise
        os.close(self.reserve_fd)
        for _ in range(MAX_ACCEPTS_PER_EVENT):
            try:
                sock, _ = super().accept()
            except OSError:
                break
            sock.close()
            self.counters.refused_fd_limit += 1
        self.reserve_fd = open_reserve()
        raise BlockingIOError(errno.EAGAIN, "waiting connections refused: out of descriptors")


# ---- The echo loop, written once for every poller.


class Connection:
    __slots__ = ("sock", "fd", "pending", "peer_closed", "interest")

    def __init__(self, sock, fd):
        self.sock = sock  # None once closed
        self.fd = fd
        self.pending = bytearray()  # echo bytes the socket has not taken yet
        self.peer_closed = False
        self.interest = READ


class EchoLoop:
    def __init__(self, mode, poller, listener, config, counters, announce):
        self.mode = mode
        self.poller = poller
        self.listener = listener
        self.listen_fd = listener.fileno()
        self.read_size = config.read_size
        self.max_pending = config.max_pending
        self.counters = counters
        self.announce = announce
        self.connections = {}
        self.accept_resume_at = None  # set while accepting is paused

    def run(self):
        self.poller.register(self.listen_fd, READ)
        self.announce()
        wait, listen_fd, on_event = self.poller.wait, self.listen_fd, self.on_event
        while True:
            timeout = None
            if self.accept_resume_at is not None:
                timeout = max(0.0, self.accept_resume_at - time.monotonic())
            for fd, mask in wait(timeout):
                if fd == listen_fd:
                    self.accept_connections()
                else:
                    on_event(fd, mask)
            if self.accept_resume_at is not None and time.monotonic() >= self.accept_resume_at:
                self.accept_resume_at = None
                self.poller.register(listen_fd, READ)

    def on_event(self, fd, mask):
        connection = self.connections.get(fd)
        if connection is None:
            return  # closed earlier in this batch
        if connection.pending and mask & (WRITE | ERRORS):
            self.flush(connection)
        if connection.sock is not None and mask & (READ | ERRORS) and self.wants_read(connection):
            self.read_and_echo(connection)
        if connection.sock is not None:
            self.update_interest(connection)

    def wants_read(self, connection):
        return not connection.peer_closed and len(connection.pending) < self.max_pending

    def read_and_echo(self, connection):
        sock = connection.sock
        try:
            data = sock.recv(self.read_size)
        except BlockingIOError:
            return
        except OSError as error:
            return self.close(connection, error)
        if not data:  # the peer's FIN: flush what is owed, then close
            connection.peer_closed = True
            if not connection.pending:
                self.close(connection)
            return
        if connection.pending:  # keep the order: behind what is already waiting
            connection.pending += data
            return
        try:
            sent = sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as error:
            return self.close(connection, error)
        if sent < len(data):
            connection.pending += memoryview(data)[sent:]

    def flush(self, connection):
        try:
            sent = connection.sock.send(connection.pending)
        except BlockingIOError:
            return
        except OSError as error:
            return self.close(connection, error)
        del connection.pending[:sent]  # cheap: CPython moves a bytearray's start, not its bytes
        if connection.peer_closed and not connection.pending:
            self.close(connection)

    # Write interest only while bytes are owed (a writable socket would end every level-triggered
    # wait at once), read interest only below the backpressure cap. Never empty: a connection that
    # reads nothing owes bytes, or it would have been closed.
    def update_interest(self, connection):
        wanted = (READ if self.wants_read(connection) else 0) | (WRITE if connection.pending else 0)
        if wanted == connection.interest:
            return
        if connection.interest & READ and not wanted & READ and not connection.peer_closed:
            self.counters.backpressure_pauses += 1
        self.poller.modify(connection.fd, wanted)
        connection.interest = wanted

    def close(self, connection, error=None):
        self.poller.unregister(connection.fd)  # before close: the number may come back at once
        connection.sock.close()
        connection.sock = None
        del self.connections[connection.fd]
        if error is None:
            self.counters.closes_eof += 1
        elif error.errno in RESET_ERRORS:
            self.counters.closes_reset += 1
        else:
            self.counters.closes_error += 1

    def accept_connections(self):
        counters = self.counters
        for _ in range(MAX_ACCEPTS_PER_EVENT):
            try:
                sock, _ = self.listener.accept()
            except BlockingIOError:
                return
            except OSError as error:
                if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    counters.accept_errors += 1  # EMFILE here: no reserve left (see Listener)
                    return self.pause_accepting()
                counters.accept_errors += 1  # ECONNABORTED, EPROTO...: the next one may be fine
                continue
            counters.accepts += 1
            fd = sock.fileno()
            if self.poller.max_fd is not None and fd > self.poller.max_fd:
                # select.select would raise ValueError for it (and FD_SET would write past the
                # fd_set): refuse this one connection and keep serving the others.
                sock.close()
                if counters.refused_fd_setsize == 0:
                    print(f"{PROGRAM}: {self.mode}: descriptors >= FD_SETSIZE ({FD_SETSIZE}) "
                          "cannot be watched; refusing (closing) such connections",
                          file=sys.stderr, flush=True)
                counters.refused_fd_setsize += 1
                continue
            sock.setblocking(False)  # not inherited from the listener on Linux
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.connections[fd] = Connection(sock, fd)
            self.poller.register(fd, READ)

    def pause_accepting(self):
        if self.accept_resume_at is None:
            self.poller.unregister(self.listen_fd)
        self.accept_resume_at = time.monotonic() + ACCEPT_BACKOFF_SECONDS


# ---- asyncio


class EchoProtocol(asyncio.BufferedProtocol):
    """The transport reads into get_buffer()'s buffer, so each recv asks for exactly --read-size
    bytes (a plain Protocol or streams read 256 KiB, asyncio's fixed max_size). The transport's
    write buffer is the pending buffer: above --max-pending the transport calls pause_writing and
    reading stops until it has drained to the cap again."""

    def __init__(self, config, counters):
        self.read_size = config.read_size
        self.max_pending = config.max_pending
        self.counters = counters
        self.buffer = bytearray(self.read_size)
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.counters.accepts += 1
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_write_buffer_limits(high=self.max_pending, low=self.max_pending)

    def get_buffer(self, sizehint):
        return self.buffer

    def buffer_updated(self, nbytes):
        # A copy: the transport may keep what it could not send, and the buffer is reused.
        self.transport.write(self.buffer[:nbytes])

    def pause_writing(self):
        self.counters.backpressure_pauses += 1
        self.transport.pause_reading()

    def resume_writing(self):
        if not self.transport.is_closing():
            self.transport.resume_reading()

    def eof_received(self):
        return False  # the transport closes itself once its write buffer is flushed

    def connection_lost(self, error):
        if error is None:
            self.counters.closes_eof += 1
        elif isinstance(error, OSError) and error.errno in RESET_ERRORS:
            self.counters.closes_reset += 1
        else:
            self.counters.closes_error += 1


async def echo_stream(reader, writer, config, counters):
    counters.accepts += 1
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    writer.transport.set_write_buffer_limits(high=config.max_pending, low=config.max_pending)
    try:
        while data := await reader.read(config.read_size):
            writer.write(data)
            await writer.drain()  # waits while more than --max-pending bytes are unsent
        writer.close()  # the peer's FIN: the transport flushes what is owed, then closes
        await writer.wait_closed()
        counters.closes_eof += 1
    except OSError as error:
        writer.close()
        if error.errno in RESET_ERRORS:
            counters.closes_reset += 1
        else:
            counters.closes_error += 1


async def serve_asyncio(mode, listener, config, counters, announce):
    # A BufferedProtocol rather than streams or a plain Protocol: all three are idiomatic, but
    # measured with loadgen (10 active clients, 64 B messages, server pinned to one CPU, server
    # CPU from /proc/PID/task/*/schedstat), per echoed message the BufferedProtocol costs 6.6 us
    # of server CPU (a raw select.epoll loop: 5.2 us), streams 24 us, a plain Protocol 30 us.
    # Streams and plain protocols recv() 256 KiB at a time (asyncio's fixed max_size), above
    # glibc's 128 KiB mmap threshold, and CPython shrinks each result with realloc: every read
    # costs an mmap, an mremap, a munmap and page faults (strace -c: one of each per recvfrom).
    # With glibc kept from returning memory (MALLOC_MMAP_THRESHOLD_=1048576
    # MALLOC_TRIM_THRESHOLD_=67108864 MALLOC_TOP_PAD_=1048576) a plain Protocol costs 6.9 us
    # and streams still 12 us: their own price is a copy into and out of the StreamReader's
    # buffer, a future woken through call_soon and a task step per read(), and the drain()
    # await. The BufferedProtocol receives into get_buffer()'s --read-size bytes, so it also
    # keeps the contract's read size. `--mode asyncio-streams` keeps streams, as tutorials write
    # them, to show their cost.
    loop = asyncio.get_running_loop()
    stopped = loop.create_future()

    def stop():
        if not stopped.done():
            stopped.set_result(None)

    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop)

    def on_loop_error(loop, context):
        # EMFILE that Listener could not absorb: asyncio stops accepting for a second. One line
        # instead of the default handler's traceback.
        error = context.get("exception")
        if isinstance(error, OSError) and error.errno in (errno.EMFILE, errno.ENFILE):
            counters.accept_errors += 1
            print(f"{PROGRAM}: {mode}: accept: {error.strerror}; asyncio pauses accepting for "
                  "a second", file=sys.stderr, flush=True)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(on_loop_error)
    if mode == "asyncio":
        server = await loop.create_server(lambda: EchoProtocol(config, counters), sock=listener,
                                          backlog=socket.SOMAXCONN)
    else:
        server = await asyncio.start_server(
            lambda reader, writer: echo_stream(reader, writer, config, counters), sock=listener,
            backlog=socket.SOMAXCONN, limit=config.read_size)
    announce()
    await stopped
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        # Removing asyncio's handler restores the default action (SIGINT: KeyboardInterrupt), so
        # a second signal while asyncio.run winds down would kill it or raise: ignore them.
        loop.remove_signal_handler(signal_number)
        signal.signal(signal_number, signal.SIG_IGN)
    server.close()


# ---- Command line


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def positive(text):
    value = int(text, 10)
    if value < 1:
        raise ValueError
    return value


def parse_arguments(argv):
    parser = Parser(
        prog=PROGRAM, description=__doc__.split("\n\n")[0],
        epilog="Prints 'listening ADDRESS:PORT' on stdout once it accepts connections. "
               "SIGINT/SIGTERM stop it (exit code 0). Exit code 2: bad usage.")
    parser.add_argument("--mode", required=True, choices=MODES, help="how it waits for readiness")
    parser.add_argument("--bind", default="127.0.0.1", help="IPv4 address to listen on "
                        "(default 127.0.0.1: an open echo port is a reflection vector)")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    parser.add_argument("--read-size", type=positive, default=16384,
                        help="bytes asked for by each read (default 16384)")
    parser.add_argument("--max-pending", type=positive, default=1 << 20,
                        help="per-connection cap on unsent echo bytes; reading pauses above it "
                             "(default 1048576)")
    parser.add_argument("--cpu", type=int, help="pin the server to this CPU")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: not in 0..65535")
    if args.read_size > 16 << 20:
        raise UsageError(f"--read-size {args.read_size}: at most {16 << 20}")
    if args.max_pending > 1 << 30:
        raise UsageError(f"--max-pending {args.max_pending}: at most {1 << 30}")
    try:
        ipaddress.IPv4Address(args.bind)
    except ValueError:
        raise UsageError(f"--bind {args.bind}: not an IPv4 address") from None
    if args.cpu is not None:
        allowed = sorted(os.sched_getaffinity(0))
        if args.cpu not in allowed:
            raise UsageError(f"--cpu {args.cpu}: not available (allowed: "
                             f"{','.join(map(str, allowed))})")
    return args


def listen(address, port, counters):
    listener = Listener(socket.AF_INET, socket.SOCK_STREAM)
    listener.prepare(counters)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((address, port))
        listener.listen(socket.SOMAXCONN)
    except OSError as error:
        listener.close()
        raise UsageError(f"cannot listen on {address}:{port}: {error.strerror}") from None
    listener.setblocking(False)
    return listener


def raise_fd_limit_to_hard():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft, hard


def main(argv):
    stopping = []

    def on_signal(signal_number, frame):
        if not stopping:  # a second signal while unwinding must not raise again
            stopping.append(signal_number)
            raise Stop

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    counters = Counters()
    try:
        args = parse_arguments(argv)
        if args.cpu is not None:
            os.sched_setaffinity(0, {args.cpu})
        soft, hard = raise_fd_limit_to_hard()
        listener = listen(args.bind, args.port, counters)
        port = listener.getsockname()[1]

        def announce():
            print(f"listening {args.bind}:{port}", flush=True)

        print(f"{PROGRAM}: mode {args.mode}, fd limit {soft} (hard {hard}), read size "
              f"{args.read_size}, max pending {args.max_pending}"
              + (f", pinned to CPU {args.cpu}" if args.cpu is not None else ""),
              file=sys.stderr, flush=True)
        if args.mode.startswith("asyncio"):
            asyncio.run(serve_asyncio(args.mode, listener, args, counters, announce))
        else:
            EchoLoop(args.mode, POLLERS[args.mode](), listener, args, counters, announce).run()
    except UsageError as error:
        print(f"{PROGRAM}: {error}", file=sys.stderr)
        return 2
    except (Stop, KeyboardInterrupt):
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print(f"{PROGRAM}: stopped: {counters.summary()}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
