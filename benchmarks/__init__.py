"""Scale benchmark of loading, evaluation, exports and the report."""
