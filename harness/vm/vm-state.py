#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""vm-state.py SOCKET: print where a stalled test VM is.

Asks the test VM's QEMU, through its human monitor on the unix SOCKET,
for the CPUs' registers three times a second apart (does RIP move?),
the instructions at RIP, and whether the CPU runs the nested guest.
Never fails: a VM that does not answer is itself the evidence.
"""
import socket
import sys
import time

PROMPT = b"(qemu) "


def read_to_prompt(sock):
    """Read the monitor's output up to and including its next prompt."""
    out = b""
    while not out.endswith(PROMPT):
        chunk = sock.recv(65536)
        if not chunk:
            break
        out += chunk
    return out


def ask(sock, command):
    """Send one monitor command and return its output, prompt stripped."""
    sock.sendall(command.encode() + b"\n")
    text = read_to_prompt(sock).decode(errors="replace").replace("\r", "")
    # The monitor echoes the command line first.
    return text.split("\n", 1)[-1].removesuffix("(qemu) ").rstrip()


def main():
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(sys.argv[1])
        read_to_prompt(sock)	# the banner
        for sample in range(3):
            print(f"== info registers -a, sample {sample + 1} of 3")
            print(ask(sock, "info registers -a"))
            time.sleep(1)
        print("== info cpus")
        print(ask(sock, "info cpus"))
        print("== x/12i $pc")
        print(ask(sock, "x/12i $pc"))
    except OSError as err:
        print(f"the VM's monitor did not answer: {err}")


if __name__ == "__main__":
    main()
