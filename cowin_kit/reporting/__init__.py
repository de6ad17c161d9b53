"""Campaign reports: figures for dashboards and CSV exports."""
