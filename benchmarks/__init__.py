"""Benchmark and soak scripts. A package only so that tests can import a script's reusable core
(tests/scheduler/test_soak.py runs a short `benchmarks.soak`); it is not shipped with Huracan."""
