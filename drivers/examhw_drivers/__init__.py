"""examhw's built-in drivers, one module per wire protocol. They register
through the ``examhw`` entry-point group exactly as a vendor's would."""
