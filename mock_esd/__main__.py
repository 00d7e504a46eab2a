"""`python -m mock_esd` runs the CLI."""

from mock_esd.cli import main

main()
