"""One module per report question: explicit tables and a typed config in, a result object out."""
