"""The four deliverables built from findings: inventory, risk map, economic exposure (with the
auditability report) and executive summary, plus decisions on findings."""
