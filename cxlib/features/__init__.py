"""Engine-side sufficient statistics (Ibis expressions in, small frames out): the metric cube, customers as of a date, exposure intervals and cells."""
