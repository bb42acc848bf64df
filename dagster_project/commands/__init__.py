"""What the `carbonpanel` subcommands do, as importable functions (the CLI only parses arguments)."""
