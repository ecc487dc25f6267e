"""Questions asked of evaluated findings: filtering, explanation, drift, reconstruction."""
