"""bench/run_all.py rewrites bench/RESULTS.md's table and keeps its hand-written sections (the README audit: it wrote
the table alone, which would have erased the test command's history and the GPU checks)."""

from pathlib import Path

from bench.run_all import with_table


def test_the_table_replaces_only_what_comes_before_the_first_section():
    results = (Path(__file__).resolve().parents[1] / "bench" / "RESULTS.md").read_text()
    kept = results[results.index("\n## ") :]
    assert "## The test command over time" in kept and "## On a GPU" in kept
    new = with_table(results, "# Benchmark results\n\n| script | figure |\n")
    assert new == "# Benchmark results\n\n| script | figure |\n" + kept
    assert with_table("", "# Benchmark results\n") == "# Benchmark results\n"  # a new file: the table alone
    assert with_table("# an old table, no sections\n", "# new\n") == "# new\n"
