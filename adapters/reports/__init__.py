"""Report pages (`/reports/<signed link>`): server-rendered HTML, charts inline, CSV and JSON."""

from adapters.reports.pages import mount_reports

__all__ = ["mount_reports"]
