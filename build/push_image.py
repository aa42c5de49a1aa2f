"""Build the Lambda image for an environment, push it to ECR and pin it by digest.

Usage: python build/push_image.py --env ENV [--artifact DIR] [--dry-run] [--registry-url URL]
See build/imagebuild/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

from imagebuild.cli import main

if __name__ == "__main__":
    sys.exit(main(project_root=Path(__file__).resolve().parents[1]))
