"""One module per `drainwatch` subcommand; each exposes `register(subparsers)`."""
