"""The benchmark of docs/benchmarks.md (run it with bench/run.sh). Not part of the app."""
