"""The tolerance of comparisons of accumulated sums with thresholds (0.2 + 6 x 0.05 must pass
a 0.5 test): *EPS* in the notation of docs/ODD.md, section 7."""

EPS = 1e-9
