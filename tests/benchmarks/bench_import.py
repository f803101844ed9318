"""How much `import vaecourse` costs beyond `import torch` (goal: < 0.3 s).

Each measurement is a fresh interpreter, alternating torch alone and torch + vaecourse. The
figure is the best run of each (the run least disturbed by other load, as timeit advises),
with the medians beside it. Run: make bench
"""

import statistics
import subprocess
import sys

RUNS = 15
TEMPLATE = "import time; t = time.perf_counter(); {imports}; print(time.perf_counter() - t)"


def timed(imports: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", TEMPLATE.format(imports=imports)], capture_output=True, text=True, check=True
    )
    return float(out.stdout)


def main() -> None:
    # The direct figure: in one interpreter, torch first, then time `import vaecourse` alone.
    in_process = [
        float(
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import time, torch; t = time.perf_counter(); import vaecourse; print(time.perf_counter() - t)",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for _ in range(RUNS)
    ]
    torch_only, both = [], []
    for _ in range(RUNS):  # interleaved, so background load hits both alike
        torch_only.append(timed("import torch"))
        both.append(timed("import torch; import vaecourse"))
    added = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, torch; b = set(sys.modules); import vaecourse; "
            "print(len(set(sys.modules) - b), sorted({m.split('.')[0] for m in set(sys.modules) - b}))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    best_torch, best_both = min(torch_only), min(both)
    print(
        f"import torch:               best {best_torch:.3f} s, median {statistics.median(torch_only):.3f} s ({RUNS} runs)"
    )
    print(f"import torch + vaecourse:   best {best_both:.3f} s, median {statistics.median(both):.3f} s")
    print(
        f"vaecourse beyond torch:     {best_both - best_torch:.3f} s best-to-best (goal < 0.300 s), "
        f"{statistics.median(both) - statistics.median(torch_only):.3f} s median-to-median"
    )
    print(f"ratio (torch + vaecourse) / torch, best runs: {best_both / best_torch:.3f}")
    print(
        f"import vaecourse after torch, same process: median {statistics.median(in_process):.3f} s, "
        f"best {min(in_process):.3f} s, worst {max(in_process):.3f} s (goal < 0.300 s)"
    )
    print(f"modules added by `import vaecourse` after torch (count, top-level names): {added}")


if __name__ == "__main__":
    main()
