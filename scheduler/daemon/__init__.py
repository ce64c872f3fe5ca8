"""What only the headless process runs: schedule entries, the lease, workers, executors, feeds."""
