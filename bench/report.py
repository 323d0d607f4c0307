#!/usr/bin/env python3
"""Reads benchmark JSON lines (shoal and python) and prints the comparison."""
import argparse
import json
import platform
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--markdown", default="0")
    args = parser.parse_args()
    rows = {}
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        rows.setdefault(r["workload"], {})[r["system"]] = r
    header = ["workload", "shoal ops/s", "python ops/s", "shoal/python",
              "shoal p50 us", "python p50 us", "shoal p99 us", "python p99 us"]
    table = []
    for workload, systems in rows.items():
        s, p = systems.get("shoal"), systems.get("python")
        if not s or not p:
            continue
        s_rate = s["ops"] / s["seconds"]
        p_rate = p["ops"] / p["seconds"]
        table.append([workload, "%.0f" % s_rate, "%.0f" % p_rate, "%.2fx" % (s_rate / p_rate),
                      "%.1f" % s["p50_us"], "%.1f" % p["p50_us"],
                      "%.1f" % s["p99_us"], "%.1f" % p["p99_us"]])
    if args.markdown == "1":
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in table:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(header, *table)]
        for row in [header] + table:
            print("  ".join(str(x).rjust(w) for x, w in zip(row, widths)))
    print("\n%s, Python %s" % (platform.platform(), platform.python_version()))


if __name__ == "__main__":
    main()
