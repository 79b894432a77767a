"""The reports' reads, one module per report (crm.reports.queries gathers their names)."""
