"""Questions asked of evaluated findings: filters, explanations, drift, timelines."""
