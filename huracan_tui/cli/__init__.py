"""The `huracan` command line: its entry point (main) and one module per subcommand."""
