"""`flask crm seed`: realistic synthetic data at any scale, fast and deterministic.

Rows are generated from built-in word lists with one random.Random(seed) and written with
bulk INSERTs in batches (ids assigned here, so nothing is read back). Names, emails, phones,
companies and texts depend only on --seed; timestamps are relative to today (UTC midnight),
so "no activity for N days" stays meaningful whenever the data is made.

The parts: ``words`` (the word lists), ``bulk`` (batched INSERTs), ``generate`` (the team and
its rows), ``cli`` (the command).
"""
