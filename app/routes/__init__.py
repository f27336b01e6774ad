"""HTTP routes: OpenAI endpoints, adapter management, health and metrics."""
