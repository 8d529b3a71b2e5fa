"""Every generated sentence, number/period/money formatting and the one metric vocabulary."""
