"""The speed layer: tricks that change how fast the engine computes, never what.

Everything here is checked against the reference (the rule table and the plain backward loop,
``with ag.reference():``) on the same graphs, bit for bit where the order of summation is the
same:

- ``lazy``: gradients kept in pieces inside the backward loop and made dense once (slices
  joined by one concatenate, a weight's products stacked into one, a projection's gradient in
  row blocks). No code outside the loop ever sees one.
- ``release``: ``release_unneeded()``, freeing values that no derivative reads.
- ``allocator``: an explicit call that keeps freed memory in the process between steps.
"""
