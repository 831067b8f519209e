"""``python -m rest_client``: see rest_client.cli."""

from rest_client.cli import main

raise SystemExit(main())
