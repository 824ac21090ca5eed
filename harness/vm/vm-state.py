#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""vm-state.py SOCKET [SYMBOLS...]: print where a stalled test VM is.

Asks the test VM's QEMU, through its human monitor on the unix SOCKET,
for the CPUs' registers three times a second apart (does RIP move?)
and the instructions at RIP, then names the function of each RIP from
the VM's text symbols (files in /proc/kallsyms's format: the VM runs
with nokaslr) in "WHERE" lines. A RIP that no symbol file covers is
the nested guest's (or a module's whose symbols are not given).
Never fails: a VM that does not answer is itself the evidence.
"""
import bisect
import re
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


def text_symbols(paths):
    """The text symbols of kallsyms-format files, as sorted
    (address, "name" or "name [module]") pairs; missing files are skipped."""
    symbols = []
    for path in paths:
        try:
            with open(path, encoding="ascii", errors="replace") as lines:
                for line in lines:
                    fields = line.split()
                    if len(fields) >= 3 and fields[1] in ("t", "T"):
                        symbols.append((int(fields[0], 16), " ".join(fields[2:])))
        except OSError:
            pass
    symbols.sort()
    return symbols


def where(symbols, rip):
    """RIP as function+offset, or why it cannot be named."""
    i = bisect.bisect_right(symbols, (rip, "\U0010ffff")) - 1
    if i < 0 or i + 1 >= len(symbols) or rip - symbols[i][0] > 0x100000:
        return "no symbol (the nested guest, or no symbols for it)"
    address, name = symbols[i]
    return f"{name}+{rip - address:#x}"


def main():
    samples = []
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(sys.argv[1])
        read_to_prompt(sock)	# the banner
        for sample in range(3):
            print(f"== info registers -a, sample {sample + 1} of 3")
            samples.append(ask(sock, "info registers -a"))
            print(samples[-1])
            time.sleep(1)
        print("== info cpus")
        print(ask(sock, "info cpus"))
        print("== x/12i $pc")
        print(ask(sock, "x/12i $pc"))
    except OSError as err:
        print(f"the VM's monitor did not answer: {err}")
    if len(sys.argv) > 2 and samples:
        symbols = text_symbols(sys.argv[2:])
        for sample, text in enumerate(samples, 1):
            rips = re.findall(r"^RIP=([0-9a-f]+)", text, re.M)
            for cpu, rip in enumerate(rips):
                print(f"WHERE sample {sample} cpu {cpu}: {rip} "
                      f"{where(symbols, int(rip, 16))}")


if __name__ == "__main__":
    main()
