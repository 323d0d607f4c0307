#!/usr/bin/env python3
"""Runs the shell sessions of a Markdown document against a live shoal server
and checks that every command prints what the document shows.

A ```console block holds commands and their output, as a terminal shows them:

    $ command --with args \\
        continued
    expected output line
    ...

Lines starting with "$ " are commands (a trailing backslash continues one on
the next line); the lines after a command, up to the next command, are its
expected output, stdout and stderr together. In an expected line, "..." stands
for any text; a line that is only "..." stands for any number of lines. Every
other kind of block (```sh, ```json ...) is prose and is not run.

The commands run in order in one bash process, in a fresh directory, with
$SHOAL_SERVER and $SHOAL_AUTHKEY_FILE naming a server this script started
(`shoal serve` on a free port) and the given folders first on $PATH. Exit
status: 0 when every command printed what the document shows, 1 otherwise.
"""

import argparse
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

COMMAND_TIMEOUT = 60.0


def parse_blocks(text):
    """Returns [(line_number, command, [expected lines])] in document order."""
    steps = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```console":
            i += 1
            continue
        i += 1
        block = []
        while i < len(lines) and lines[i].strip() != "```":
            block.append((i + 1, lines[i]))
            i += 1
        i += 1
        j = 0
        while j < len(block):
            number, line = block[j]
            if not line.startswith("$ "):
                raise SystemExit(f"line {number}: output before any command: {line!r}")
            command = line[2:]
            j += 1
            while command.endswith("\\") and j < len(block):
                command += "\n" + block[j][1]
                j += 1
            expected = []
            while j < len(block) and not block[j][1].startswith("$ "):
                expected.append(block[j][1].rstrip())
                j += 1
            steps.append((number, command, expected))
    return steps


def line_pattern(expected):
    parts = [re.escape(part) for part in expected.split("...")]
    return re.compile(".*".join(parts) + r"\Z")


def matches(expected, actual):
    """Whether actual lines match expected lines, "..." lines spanning any number."""
    while expected and expected[-1] == "":
        expected = expected[:-1]
    memo = {}

    def match(e, a):
        key = (e, a)
        if key in memo:
            return memo[key]
        if e == len(expected):
            result = a == len(actual)
        elif expected[e] == "...":
            result = any(match(e + 1, k) for k in range(a, len(actual) + 1))
        else:
            result = a < len(actual) and line_pattern(expected[e]).match(actual[a]) is not None \
                and match(e + 1, a + 1)
        memo[key] = result
        return result

    return match(0, 0)


class Shell:
    """One bash process that runs commands in turn and reports each one's output."""

    def __init__(self, cwd, env):
        self.cwd = cwd
        # A session of its own, so that close() also ends what the commands
        # left running in the background (a server a page starts).
        self.proc = subprocess.Popen(["bash", "--noprofile", "--norc"], cwd=cwd, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1,
                                     start_new_session=True)

    def run(self, command):
        out = os.path.join(self.cwd, ".doc-output")
        marker = "__doc_command_done__"
        # The braces run the command in this shell, so that variables,
        # functions and background jobs carry over to the next commands.
        self.proc.stdin.write(f"{{\n{command}\n}} > {out} 2>&1 < /dev/null\necho {marker}\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no end after {COMMAND_TIMEOUT:.0f} s")
            ready, _, _ = select.select([self.proc.stdout], [], [], remaining)
            if not ready:
                continue
            line = self.proc.stdout.readline()
            if line == "":
                raise RuntimeError("the shell exited")
            if line.strip() == marker:
                break
        with open(out, encoding="utf-8", errors="replace") as f:
            return f.read().rstrip("\n").split("\n") if os.path.getsize(out) else []

    def close(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def start_server(workdir, env):
    """Starts `shoal serve` on a free port; returns (process, address)."""
    log = open(os.path.join(workdir, ".server.log"), "w+")
    proc = subprocess.Popen(["shoal", "serve", "--listen=127.0.0.1:0",
                             "--authkey-file=" + os.path.join(workdir, "authkey")],
                            env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        log.seek(0)
        found = re.search(r"listening on (\S+)", log.read())
        if found:
            return proc, found.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    log.seek(0)
    raise SystemExit("the server did not start:\n" + log.read())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("document")
    parser.add_argument("--path", action="append", default=[],
                        help="a folder to put first on $PATH (repeatable)")
    args = parser.parse_args()
    with open(args.document, encoding="utf-8") as f:
        steps = parse_blocks(f.read())
    if not steps:
        raise SystemExit(f"{args.document}: no ```console commands")

    workdir = tempfile.mkdtemp(prefix="shoal-doc-")
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([os.path.abspath(p) for p in args.path] + [env["PATH"]])
    for tool in ("shoal", "grpcurl", "jq", "openssl"):
        if shutil.which(tool, path=env["PATH"]) is None:
            raise SystemExit(f"{tool} is not on $PATH")
    server, address = start_server(workdir, env)
    env["SHOAL_SERVER"] = address
    env["SHOAL_AUTHKEY_FILE"] = os.path.join(workdir, "authkey")
    env.pop("SHOAL_AUTHKEY", None)
    shell = Shell(workdir, env)
    failures = 0
    try:
        for number, command, expected in steps:
            try:
                actual = shell.run(command)
            except (TimeoutError, RuntimeError) as e:
                print(f"{args.document}:{number}: $ {command}\n  {e}")
                failures += 1
                break
            if not matches(expected, actual):
                failures += 1
                print(f"{args.document}:{number}: $ {command}")
                print("  expected:")
                print("\n".join("    " + line for line in expected))
                print("  got:")
                print("\n".join("    " + line for line in actual))
    finally:
        shell.close()
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    if failures:
        print(f"{failures} of {len(steps)} commands did not print what {args.document} shows")
        shutil.rmtree(workdir, ignore_errors=True)
        return 1
    print(f"{len(steps)} commands of {args.document} printed what it shows")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
