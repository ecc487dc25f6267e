"""Studies that run the evaluation engine over recorded public agent runs."""
