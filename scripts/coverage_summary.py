"""Print the combined coverage of `make coverage` per part: the SDK, the platform server and the command line.

Reads the `.coverage` data file in the current directory (after `coverage combine`).
"""

from __future__ import annotations

import sys
from pathlib import PurePosixPath

import coverage

# The command-line entry points and the commands they run; everything else outside server/ is the SDK.
CLI_MODULES = {"cli.py", "cli_accounts.py", "utils/_command.py", "utils/upload_data.py", "utils/sync.py",
               "utils/_offline_runs.py"}


def part_of(path: str) -> str | None:
    """'sdk', 'server' or 'cli' for a measured file of the package; None for anything else."""
    parts = PurePosixPath(path.replace("\\", "/")).parts
    if "brevettiai" not in parts:
        return None
    inner = "/".join(parts[len(parts) - parts[::-1].index("brevettiai"):])
    if inner.startswith("server/"):
        return "server"
    return "cli" if inner in CLI_MODULES else "sdk"


def main(data_file: str = ".coverage") -> int:
    data = coverage.Coverage(data_file=data_file)
    data.load()
    totals: dict[str, list[int]] = {"sdk": [0, 0], "server": [0, 0], "cli": [0, 0]}
    for path in data.get_data().measured_files():
        part = part_of(path)
        if part is None:
            continue
        _, statements, _, missing, _ = data.analysis2(path)
        totals[part][0] += len(statements)
        totals[part][1] += len(statements) - len(missing)
    statements = sum(s for s, _ in totals.values())
    covered = sum(c for _, c in totals.values())
    for part, (count, hit) in [*totals.items(), ("total", [statements, covered])]:
        print(f"{part:<7} {hit:>6} of {count:>6} statements  {100 * hit / max(count, 1):5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
