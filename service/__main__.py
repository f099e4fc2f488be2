"""`python -m service` is the `drainwatch` command."""

from service.cli import main

raise SystemExit(main())
