"""The analyst's desk: views that read the rule engine's facts by obligation (issue 16)."""
