"""The `mock-esd` commands, one module each: `mock-esd X` is defined in `mock_esd_workbench.commands.X` as the
click command `X` (`COMMANDS` lists them, in the order `mock-esd --help` shows them). A new command is a new
module here and its name in `COMMANDS`; what several commands share lives beside this package
(`cli_support`, `terminal`), and what a command does beyond parsing lives in the parts or in a noun module.

Each module imports what only its command needs inside the command, so `mock-esd --help` loads no server.
"""

COMMANDS = ("serve", "demo", "sync", "export", "explain", "rules", "verify", "record", "proxy")
