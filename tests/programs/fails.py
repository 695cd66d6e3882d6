"""A program that always fails at once, like a sweep whose dataset broke after it was created."""

import sys

print("error: dataset not found", file=sys.stderr)
sys.exit(1)
