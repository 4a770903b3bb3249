"""fpe_theory: exact closed forms for clause coverage and collisions of random FPE, and Monte Carlo checks."""
