"""Small pieces shared by every build-time tool: structured logs, progress, atomic writes."""
