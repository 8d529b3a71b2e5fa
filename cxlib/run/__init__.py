"""The runner: papermill sections, the run-folder layout, rendering, atomic publishing, the index pages and the executive summary."""
