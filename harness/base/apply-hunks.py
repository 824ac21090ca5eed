#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""apply-hunks.py MAINLINE TREE PATCH [EXCLUDE-GLOB...]

Apply a patch written against mainline to the index of an older base's
tree (git apply --cached; GIT_INDEX_FILE is honoured), hunk by hunk.  A
hunk whose context this base does not have is retried with its leading
context only, then with its trailing context only: an addition at the
end of a list (a capability, an ioctl, a stat) then lands where this
base's list ends.  A hunk that applies in none of the three ways is an
error that names it.  Files matching an EXCLUDE-GLOB are skipped.

Capabilities are numbered in order, so a context line naming one of
mainline's last capabilities (MAINLINE is a tree, or a part of one, that
holds mainline's include/uapi/linux/kvm.h) stands for this base's capability at the
same distance from the end of its list: the series' new ones then follow
this base's last one, whatever the numbers in between.

The x86 selftests are under x86/ since 6.14: with SELFTEST_ARCH=x86_64 in
the environment, a patch's paths there are this base's x86_64/ ones.
"""
import fnmatch
import os
import re
import subprocess
import sys


def hunk_variants(body):
    """The hunk's lines, then with its leading or its trailing context only."""
    changed = [i for i, line in enumerate(body) if line[:1] in "+-"]
    first, last = changed[0], changed[-1]
    variants = [body]
    if first > 0 and last + 1 < len(body):
        variants.append(body[:last + 1])
        variants.append(body[first:])
    return variants


CAP = re.compile(r"^ #define KVM_CAP_\w+ \d+\n$")


def cap_map(tree, path, mainline_caps):
    """Context lines of mainline's capabilities -> this base's, from the end."""
    if path != "include/uapi/linux/kvm.h":
        return {}
    text = subprocess.run(["git", "-C", tree, "show", ":" + path],
                          capture_output=True, text=True).stdout
    ours = [" " + line + "\n" for line in text.splitlines()
            if CAP.match(" " + line + "\n")]
    theirs = [line for line in mainline_caps if line not in ours]
    # Leave out the capabilities the series added, numbered past mainline's.
    last = max(int(line.split()[-1]) for line in mainline_caps)
    base = [line for line in ours if int(line.split()[-1]) <= last]
    return dict(zip(reversed(theirs), reversed(base)))


def git_apply(tree, text, loose):
    cmd = ["git", "-C", tree, "apply", "--cached", "--whitespace=nowarn"]
    if loose:
        cmd += ["--recount", "--unidiff-zero"]
    return subprocess.run(cmd + ["-"], input=text.encode(),
                          capture_output=True).returncode == 0


def base_paths(header):
    """The section's header with this base's name of the x86 selftests."""
    arch = os.environ.get("SELFTEST_ARCH", "x86")
    if arch == "x86":
        return header
    kvm = "tools/testing/selftests/kvm/"
    return (header.replace(kvm + "x86/", kvm + arch + "/")
            .replace(kvm + "include/x86/", kvm + "include/" + arch + "/"))


def main():
    mainline, tree, patch, excludes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    with open(f"{mainline}/include/uapi/linux/kvm.h", encoding="utf-8") as uapi:
        mainline_caps = [" " + line for line in uapi if CAP.match(" " + line)]
    text = open(patch, encoding="utf-8").read()
    for section in re.split(r"(?m)^(?=diff --git )", text)[1:]:
        lines = section.splitlines(keepends=True)
        path = re.match(r"diff --git a/(\S+) b/", lines[0]).group(1)
        if any(fnmatch.fnmatch(path, glob) for glob in excludes):
            continue
        starts = [i for i, line in enumerate(lines) if line.startswith("@@")]
        header = base_paths("".join(lines[:starts[0]]))
        mapping = cap_map(tree, path, mainline_caps)
        for n, start in enumerate(starts):
            end = starts[n + 1] if n + 1 < len(starts) else len(lines)
            body = [line for line in lines[start + 1:end]
                    if line[:1] in " +-\\" and line != "-- \n"]
            whole = header + lines[start] + "".join(body)
            if git_apply(tree, whole, False):
                continue
            body = [mapping.get(line, line) for line in body]
            for variant in hunk_variants(body):
                if git_apply(tree, header + lines[start] + "".join(variant), True):
                    break
            else:
                sys.exit(f"{patch}: hunk {n + 1} of {path} ({lines[start].strip()}) "
                         "applies to this base neither as it is nor with only its "
                         "leading or trailing context")


if __name__ == "__main__":
    main()
