#!/usr/bin/env python3
"""A NOTIFY_SOCKET listener that does what systemd's manager does with sd_notify messages:
binds a unix datagram socket, reads each message with its passed file descriptors, and
closes them (that is how a BARRIER=1 sender learns the message was processed). Prints
each message as one JSON line: {"t": seconds since start, "msg": [lines]}.

    python3 test/peers/notify_listener.py SOCKET_PATH
"""
import array
import json
import os
import socket
import sys
import time

path = sys.argv[1]
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
start = time.monotonic()
print(json.dumps({"ready": True}), flush=True)
while True:
    data, anc, _flags, _addr = s.recvmsg(4096, socket.CMSG_SPACE(16 * 4) + socket.CMSG_SPACE(12))
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
            for fd in fds:
                os.close(fd)
    lines = [l for l in data.decode("utf-8", "replace").split("\n") if l]
    print(json.dumps({"t": round(time.monotonic() - start, 3), "msg": lines}), flush=True)
