"""``flowfill batch``: many clips from a CSV manifest, filled locally one after another or on
one Ray cluster shared by every clip.

``manifest`` reads and checks the manifest (every row validated before any work), ``run``
fills the clips and sums them up, ``command`` is the command line.
"""
