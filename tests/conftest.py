import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hypothesis import settings  # noqa: E402

settings.register_profile("project", deadline=None, max_examples=25)
settings.load_profile("project")
