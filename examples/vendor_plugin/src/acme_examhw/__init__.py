"""ACME's examhw plugin: AX-1 UPS driver and simulator."""
