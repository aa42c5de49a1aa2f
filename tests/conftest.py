"""Shared pytest configuration: plugins that provide project-wide fixtures."""

pytest_plugins = ["tfoffline.pytest_plugin"]
