"""Count the cluster submissions (sbatch calls) a profile makes for a preset, from a dry run.

    python tests/cluster/count_submissions.py --profile profiles/slurm --config preset=paper

Any arguments are passed on to `snakemake -n`. A group job (profile `groups:` /
`group-components:`) is one submission; the `link_*` rules (localrule: hard links on the
submitting host), `download_source` and `all` are none. Prints the count with grouping as given and without it
(every job of the dry run's job table that is not local). The dry run needs no data and no
cluster: it builds the DAG only (about 15 s for `paper`).
"""

from __future__ import annotations

import re
import subprocess
import sys

LOCAL_RULES = {"download_source", "all"}


def _local(rule: str) -> bool:
    return rule in LOCAL_RULES or rule.startswith("link_")


def count(dry_run: str) -> dict[str, int]:
    single = [rule for rule in re.findall(r"^rule (\w+):", dry_run, flags=re.M) if not _local(rule)]
    groups = len(re.findall(r"Group job \w+ ", dry_run))
    table = dict(re.findall(r"^(\w+)\s+(\d+)$", dry_run.split("Job stats:", 1)[1], flags=re.M))
    jobs = sum(int(n) for rule, n in table.items() if not _local(rule) and rule != "total")
    return {"with_groups": len(single) + groups, "group_jobs": groups, "ungrouped_jobs": len(single),
            "without_groups": jobs, "local_jobs": sum(int(n) for rule, n in table.items() if _local(rule))}


def main(argv: list[str]) -> None:
    if {"-h", "--help"} & set(argv):
        print(f"usage: python tests/cluster/count_submissions.py [snakemake -n arguments]\n\n{__doc__}")
        return
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", *argv], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(result.stderr[-3000:])
    numbers = count(result.stdout + result.stderr)
    print(f"{numbers['with_groups']} submissions with grouping ({numbers['group_jobs']} group jobs + "
          f"{numbers['ungrouped_jobs']} single jobs); {numbers['without_groups']} without grouping; "
          f"{numbers['local_jobs']} jobs run on the submitting host")


if __name__ == "__main__":
    main(sys.argv[1:])
