#!/usr/bin/env python3
"""The reference server of the benchmark suite: Python's multiprocessing manager.

BenchManager is SyncManager with one addition: named objects. A client asks
for "named_list", "named_dict", ... with a name, and every client that asks
for the same name gets a proxy to the same object (the first call creates it),
as shoal's named objects and Redis keys are shared. The proxies are
SyncManager's own (ListProxy, DictProxy, ValueProxy, AcquirerProxy,
EventProxy, BarrierProxy, AutoProxy for Queue); the server is SyncManager's
own, a thread per connection.

Run as a program, it serves until SIGTERM or SIGINT:

    python_manager.py ADDRESS AUTHKEY_FILE

ADDRESS is host:port (TCP) or unix:PATH (an AF_UNIX socket, Python's default
local transport). It prints "ready" once it listens.
"""
import signal
import sys
import threading
from multiprocessing.managers import SyncManager

_named = {}
_named_lock = threading.Lock()


def _get_or_create(factory):
    def get(name, *args):
        with _named_lock:
            obj = _named.get(name)
            if obj is None:
                obj = _named[name] = factory(*args)
            return obj
    return get


class BenchManager(SyncManager):
    pass


for _typeid in ("list", "dict", "Value", "Lock", "Queue", "Event", "Barrier"):
    _callable, _exposed, _method_to_typeid, _proxytype = SyncManager._registry[_typeid]
    BenchManager.register("named_" + _typeid, callable=_get_or_create(_callable),
                          proxytype=_proxytype, exposed=_exposed,
                          method_to_typeid=_method_to_typeid)


def parse_address(text):
    """host:port -> (host, port); unix:PATH -> PATH (AF_UNIX)."""
    if text.startswith("unix:"):
        return text[len("unix:"):]
    host, port = text.rsplit(":", 1)
    return (host, int(port))


def read_key(path):
    with open(path, "rb") as f:
        return f.read().strip()


def main():
    address, key_file = sys.argv[1], sys.argv[2]
    manager = BenchManager(address=parse_address(address), authkey=read_key(key_file))
    server = manager.get_server()
    # The manager listens with a backlog of 16 (multiprocessing.managers.Server);
    # 64 client processes, each opening a connection per proxy made and per
    # thread, overflow it and stall in connect for minutes. Raised here, in
    # the reference's favour.
    server.listener._listener._socket.listen(1024)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()
