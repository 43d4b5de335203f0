# PEP 440: a development release of the next version until it is tagged (README, "Releasing").
__version__ = "0.1.0.dev0"
