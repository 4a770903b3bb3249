"""fpe_common: what every package of the toolkit shares, and nothing else.

The bottom layer: it imports nothing from ``fpe_theory``, ``fpe_empirical``, ``validation``
or ``paper_figures`` (``tests/test_architecture.py`` checks it).

- ``checks``: argument checks (``check_int``, ``check_float``, ``check_bool``,
  ``check_choice``, ``check_path``) that raise ``TypeError`` for a wrong type and
  ``ValueError`` naming the parameter and the rule;
- ``cli``: the command-line error convention (exit code 2 and one line on stderr);
- ``atomic``: writing a file or a folder so that a kill leaves the old one or the new one;
- ``paths``: the default result locations every command shares;
- ``lazy``: a package's lazy export table (PEP 562);
- ``importgraph``: the module import graph the architecture tests check.
"""

__version__ = "0.1.0"
