"""Human-readable reports of a run: the model card (HTML, Markdown, JSON)."""
