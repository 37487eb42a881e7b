"""`python -m tripoint` is the `tripoint` command."""

from tripoint.cli import main

main()
