"""Pure domain logic: parsing, sequencing and report data. No Flask, no I/O."""
