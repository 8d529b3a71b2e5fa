"""Read the input tables, check them against the data contract, write the clean analysis tables."""
