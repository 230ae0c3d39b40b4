import os
import sys

# One BLAS thread, set before numpy loads: the tests' matrices are small, and a BLAS thread pool
# competing for busy cores makes a recurrent training step about ten times slower.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hypothesis import settings  # noqa: E402

settings.register_profile("project", deadline=None, max_examples=25)
settings.load_profile("project")
