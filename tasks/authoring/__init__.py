"""The feed author's tools: `sources try`, `sources discover`, `sources record`."""
