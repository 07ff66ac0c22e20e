"""Chain adapters, one per family: base.py has the interface, registry.py builds them."""
