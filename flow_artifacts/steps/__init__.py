"""Pipelines of plain functions: `@step`, `@pipeline`, runs, automatic lineage and caching.

`decorator` and `pipeline` are light, so decorating imports nothing heavy; `execute` (loaded on
the first call) does the work: `arguments` loads inputs, `cache` makes keys, `outputs` stores
results, `context` holds the run, `tracking` knows which artifact an object came from.
"""
