"""validation: the paper's claims as executable checks (``python -m validation``).

    python -m validation [--profile quick|paper] [--out DIR] [--store DIR] [--embeddings PATH]

The ledger (``validation.ledger``) holds one declarative ``Claim`` per statement of the paper
(theory A.5, case study 3.1, sweeps and interference 3.2, vision 3.3-3.4, A.7), each with the
paper's value, the data it needs, and a decision rule fixed in advance; ``validation.claims``
registers them (``validation.catalogue.get_claims`` loads and selects them), ``validation.needs``
maps their data needs to the experiment configs of the shared profiles (``fpe_empirical.profiles``)
and runs what the result store lacks, and ``validation.report`` writes ``report.md`` and
``report.json``; ``validation.readme`` renders README.md's claims block from a ``report.json``
(``python -m validation --readme``).
Verdicts: "reproduced", "not reproduced", "not run" (with the reason). Each claim has a
category (``ledger.CATEGORIES``), counted apart: a *paper claim* (the only kind that counts
as a reproduction), a *finding* (beyond the paper: "confirmed" / "not confirmed") or a
*consistency check* (the toolkit checking itself: "passed" / "failed").
"""
