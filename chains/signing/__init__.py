"""Pure transaction building and signing per chain family: no node, no database."""
