"""fluxa's settings with the bench URLconf (fluxa's URLs plus the bare reference endpoints).

Everything else comes from the environment exactly as in production (bench/run.sh sets
DATABASE_URL, CACHE_URL, FLUXA_API_RATE=None, DEBUG=false, ...).
"""

from fluxa_site.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.urls"
