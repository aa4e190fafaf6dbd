"""Runs moto_server for Cosigner's tests, with two changes made from outside it.

1. Requests are handled one at a time. moto's DynamoDB transactions snapshot whole tables
   and restore the snapshot on failure, with no lock between its request threads, so two
   concurrent transactions can undo each other. DynamoDB itself serialises conflicting
   transactions; taking moto's requests one at a time is the faithful model of that.
2. The server exits when its standard input closes, which happens when the process that
   started it ends for any reason, so a test binary never leaves a server behind.
"""

import os
import sys
import threading

import moto.server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_one_at_a_time = threading.Lock()
_handle = DomainDispatcherApplication.__call__


def _serialised(self, environ, start_response):
    with _one_at_a_time:
        # The body is produced inside the lock too: a lazy body would run outside it.
        return list(_handle(self, environ, start_response))


DomainDispatcherApplication.__call__ = _serialised


def _exit_with_parent():
    sys.stdin.buffer.read()
    os._exit(0)


threading.Thread(target=_exit_with_parent, daemon=True).start()
moto.server.main(sys.argv[1:])
