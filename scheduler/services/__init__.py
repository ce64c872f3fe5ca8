"""The operations both front doors and the daemon use. No Textual, argparse or APScheduler here."""
