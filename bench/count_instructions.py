#!/usr/bin/env python3
"""Instructions per call of one workload, counted by valgrind's callgrind.

A count of instructions does not move with the machine's speed or load, as
CPU seconds do: it tells whether a change made a call's work smaller on a
machine too noisy to show a few percent in seconds. One client (shoal_bench)
runs one workload against one shoal-server; callgrind runs the side asked
for (the server, or the client), its counters zeroed once the workload is
set up and dumped once it has run, so that only the calls are counted. The
server runs with --session_poll=0: a loop polling for its next event would
count its spinning.

  bench/count_instructions.py --build build-bench --workload pipelined_append
  bench/count_instructions.py --build build-bench --side client --seconds 4 \\
      --workload batched_dict_set --server-bin /other/build/server/shoal-server
  bench/count_instructions.py --build build-bench --workload dict_get \\
      --keep /tmp/dict_get.out && callgrind_annotate /tmp/dict_get.out

Prints the calls made, the instructions counted and their quotient. Needs
valgrind (Debian's package). Under callgrind the side counted runs some 50
times slower: the calls made are fewer, the count per call the same.
"""
import argparse
import glob
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", required=True, help="the build folder with shoal_bench")
    parser.add_argument("--workload", required=True, help="a workload of bench/suite.py")
    parser.add_argument("--side", choices=("server", "client"), default="server")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--server-bin", help="the shoal-server to run (default: the build's)")
    parser.add_argument("--bench-bin", help="the shoal_bench to run (default: the build's)")
    parser.add_argument("--keep", metavar="FILE",
                        help="copy callgrind's counts of the calls to FILE, for callgrind_annotate")
    args = parser.parse_args()
    server = os.path.abspath(args.server_bin or os.path.join(args.build, "server", "shoal-server"))
    bench = os.path.abspath(args.bench_bin or os.path.join(args.build, "bench", "shoal_bench"))

    with tempfile.TemporaryDirectory(prefix="shoal-instructions-") as tmp:
        key = os.path.join(tmp, "authkey")
        with open(key, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        os.chmod(key, 0o600)
        out = os.path.join(tmp, "callgrind.out")
        grind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
        server_argv = [server, "--listen=127.0.0.1:0", "--authkey-file=" + key,
                       "--session_poll=0"]
        s = subprocess.Popen((grind if args.side == "server" else []) + server_argv,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             cwd=tmp)
        address = None
        for line in s.stdout:
            m = re.search(r"listening on (\S+)", line)
            if m:
                address = m.group(1)
                break
        if address is None:
            sys.exit("shoal-server did not start")
        client_argv = [bench, "client", address, key, "0", "1"]
        c = subprocess.Popen((grind if args.side == "client" else []) + client_argv,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, cwd=tmp)
        counted = s if args.side == "server" else c

        def say(line, expect=None):
            c.stdin.write(line + "\n")
            c.stdin.flush()
            if expect is not None:
                got = c.stdout.readline().strip()
                if got != expect:
                    sys.exit("shoal_bench said %r, not %r" % (got, expect))

        if c.stdout.readline().strip() != "connected":
            sys.exit("shoal_bench did not connect")
        say("setup %s p %s" % (args.workload, args.seconds), "ready")
        subprocess.run(["callgrind_control", "-z", str(counted.pid)], check=True,
                       capture_output=True)
        say("go")
        result = json.loads(c.stdout.readline())
        subprocess.run(["callgrind_control", "-d", str(counted.pid)], check=True,
                       capture_output=True)
        say("quit")
        c.wait()
        s.terminate()
        s.wait()
        # The dump taken after the calls: callgrind.out.1 (the file written at
        # exit holds what came after it).
        instructions = 0
        dumps = sorted(glob.glob(out + ".*"))
        if args.keep and dumps:
            shutil.copyfile(dumps[0], args.keep)
        for path in dumps:
            with open(path) as f:
                for line in f:
                    if line.startswith("summary:"):
                        instructions += int(line.split()[1])
        calls = result["ops"]
        print("%s %s: %d calls, %d instructions, %.0f per call" %
              (args.side, args.workload, calls, instructions, instructions / calls))


if __name__ == "__main__":
    main()
